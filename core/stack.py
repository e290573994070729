"""`make run`: private services (unless URLs are given), migrations, daphne, a Celery worker
with its beat, the FTP server for firmware and diagnostics files and the Kotodian MQTT bridge;
Ctrl-C stops everything it started, in reverse order."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from core.localservices import VAR_DIR, services_for


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def daphne_command(py: str, host: str, port: str, fd: int | None = None) -> list[str]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evchong.settings")
    from django.conf import settings  # read once the private services are up: settings find them

    # An endpoint string instead of -b/-p: Twisted's default listen backlog of 50 drops
    # connection attempts when thousands of boxes reconnect after a power cut. With ``fd``, the
    # socket is one the parent bound and listens on, shared by several processes.
    endpoint = (f"fd:fileno={fd}" if fd is not None
                else f"tcp:port={port}:interface={host}:backlog={settings.LISTEN_BACKLOG}")
    return [
        py, "-m", "daphne", "-e", endpoint,
        # No idle cut-off of healthy WebSocket connections (daphne's default is 24 h).
        "--websocket_timeout", "-1",
        # daphne drops a handshake not accepted within 5 s with no answer at all (the box sees a
        # broken handshake). A box's set-up waits its turn under load (admission control), and a
        # late answer is better than none: OCPP_HANDSHAKE_TIMEOUT seconds.
        "--websocket_connect_timeout", str(settings.OCPP_HANDSHAKE_TIMEOUT),
        # Server pings keep the NAT and mobile-network paths to charge boxes open, and find dead ones.
        "--ping-interval", str(settings.OCPP_PING_INTERVAL), "--ping-timeout", str(settings.OCPP_PING_TIMEOUT),
        "--proxy-headers", "evchong.asgi:application",
    ]


def uvicorn_command(py: str, host: str, port: str, processes: int = 1) -> list[str]:
    """The same application under uvicorn with httptools and uvloop (SERVER=uvicorn): several times
    less CPU per HTTP request than daphne (docs/adr/0010). daphne stays the default: the OCPP
    edge's admission control (HTTP 503 before the upgrade, ocpp16/wsserver.py) is built into
    daphne's protocol; uvicorn implements the denial-response extension and pings itself."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evchong.settings")
    from django.conf import settings

    return [
        py, "-m", "uvicorn", "--host", host, "--port", port, "--backlog", str(settings.LISTEN_BACKLOG),
        "--http", "httptools", "--loop", "uvloop", "--lifespan", "off",
        # An access line per request below INFO, as the rest of the system logs (the bench: WARNING).
        "--log-level", os.environ.get("LOG_LEVEL", "INFO").lower(),
        "--ws-ping-interval", str(settings.OCPP_PING_INTERVAL), "--ws-ping-timeout", str(settings.OCPP_PING_TIMEOUT),
        # Larger frames close the connection with 1009, as OCPP_MAX_FRAME_BYTES does under daphne.
        "--ws-max-size", str(settings.OCPP_MAX_FRAME_BYTES),
        # uvicorn's own supervisor shares one socket among the processes.
        *(["--workers", str(processes)] if processes > 1 else []),
        "--proxy-headers", "evchong.asgi:application",
    ]


def listening_socket(host: str, port: str) -> socket.socket:
    """One socket for several daphne processes (``--fd``): the kernel hands each connection to
    one of them, so a second core serves HTTP too (daphne's HTTP path is CPU-bound in one thread)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evchong.settings")  # callers besides main (bench)
    from django.conf import settings

    sock = socket.create_server((host, int(port)), backlog=settings.LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def web_processes(env) -> int:
    """WEB_PROCESSES, else one server process per core up to two. A process serves its boxes on one
    core (the GIL); a second one on a 2-core machine took REST requests from 780 to 985 a second
    and the ingest's median answer from 347 to 247 ms (docs/performance.md). No more by default:
    each process pools up to DB_POOL_MAX PostgreSQL connections, and PostgreSQL allows 100."""
    return int(env.get("WEB_PROCESSES") or min(os.cpu_count() or 1, 2))


def web_commands(py: str, host: str, port: str, server: str, processes: int) -> tuple[list[list[str]], list]:
    """(commands, sockets the commands inherit) for ``processes`` server processes of ``server``."""
    if server == "uvicorn":
        return [uvicorn_command(py, host, port, processes)], []
    if server != "daphne":
        raise SystemExit(f"evchong: SERVER must be daphne or uvicorn, not {server!r}")
    if processes <= 1:
        return [daphne_command(py, host, port)], []
    sock = listening_socket(host, port)
    return [daphne_command(py, host, port, fd=sock.fileno()) for _ in range(processes)], [sock]


def main() -> int:
    # Before anything reads a setting: with two server processes, listening_socket does, before
    # daphne_command would have set it ("settings are not configured" on every 2-core machine).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evchong.settings")
    env, local = services_for(VAR_DIR)
    env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": "evchong.settings"}
    # Worker threads for database work (asgiref reads ASGI_THREADS); the pool (DB_POOL_MAX, 40) is
    # larger, so that threads never queue for a connection (docs/performance.md).
    env.setdefault("ASGI_THREADS", "32")
    port = env.get("PORT", "8000")
    host = env.get("HOST", "127.0.0.1")
    py = sys.executable
    # SERVER=uvicorn serves with uvicorn instead of daphne; WEB_PROCESSES=N runs N server
    # processes on one socket (the channel layer already routes commands between processes).
    server, processes = env.get("SERVER", "daphne"), web_processes(env)
    children: list[subprocess.Popen] = []
    try:
        subprocess.run([py, "manage.py", "migrate", "--noinput"], env=env, check=True)
        web, sockets = web_commands(py, host, port, server, processes)
        worker = [py, "-m", "celery", "-A", "evchong", "worker", "--beat", "--loglevel", env.get("LOG_LEVEL", "INFO"),
                  "--concurrency", env.get("CELERY_CONCURRENCY", "2"), "-s", str(VAR_DIR / "celerybeat-schedule")]
        # Firmware images and diagnostics uploads over FTP and FTPS (EVCHONG rule 1 h, firmware/ftpserver.py).
        # It records its address and MEDIA_ROOT, which addfirmware then uses with no configuration.
        ftp = [py, "manage.py", "ftpserver", "--record", str(VAR_DIR / "ftpserver.json")]
        # The Kotodian edge: Kotodian boxes' messages from the MQTT broker (MQTT_URL) to the system.
        bridge = [py, "manage.py", "kotodianbridge"]
        for command in [*web, worker, ftp, bridge]:
            # Own process groups: the terminal's Ctrl-C reaches only us, and we stop them in order.
            fds = [sock.fileno() for sock in sockets] if command in web else []
            children.append(subprocess.Popen(command, env=env, start_new_session=True, pass_fds=fds))
        for sock in sockets:
            sock.close()  # the servers hold it now
        from django.conf import settings  # loaded by the web commands, once the services were up

        print(f"evchong: serving on http://{host}:{port}/ with {processes} {server} process(es),"
              f" firmware on ftp://{settings.FTP_HOST}:{settings.FTP_PORT}/  (Ctrl-C stops everything)", flush=True)
        # Installed explicitly: a shell that starts us in the background sets SIGINT to "ignore".
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _interrupt)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        failed = next(child for child in children if child.poll() is not None)
        print(f"evchong: {failed.args[2]} exited with {failed.returncode}; stopping", file=sys.stderr)
        return failed.returncode or 1
    except KeyboardInterrupt:
        return 0
    except subprocess.CalledProcessError as exc:
        return exc.returncode
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(children):
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
        if local:
            local.stop()
        print("evchong: stopped", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
