"""`make run`: private services (unless URLs are given), migrations, daphne, a Celery worker
with its beat, the FTP server for firmware and diagnostics files and the Kotodian MQTT bridge, each
supervised: one that dies is started again with back-off while the others go on serving. Ctrl-C
stops everything it started, in reverse order."""

from __future__ import annotations

import json
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


# A child that crashes is started again after 1, 2, 4, ... seconds, at most RESTART_DELAY_MAX; one
# that ran for RESTART_RESET seconds before it crashed starts again at once.
RESTART_DELAY_MAX = 30
RESTART_RESET = 60


class Child:
    """One process of the system, supervised: started in a process group of its own (the
    terminal's Ctrl-C reaches only us, and its pool processes, such as the Celery worker's and its
    beat, end with it), restarted with back-off when it dies, the others serving meanwhile."""

    def __init__(self, name: str, command: list[str], env: dict, fds: list[int]):
        self.name, self.command, self.env, self.fds = name, command, env, fds
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.crashes_in_a_row = 0
        self.due = 0.0  # when a crashed child starts again

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env, start_new_session=True, pass_fds=self.fds)
        self.started_at = time.monotonic()

    def check(self) -> None:
        """Start the child again when it has died and its back-off has passed."""
        now = time.monotonic()
        if self.process is not None:
            code = self.process.poll()
            if code is None:
                return
            self.signal_group(signal.SIGKILL)  # what it left behind (pool processes, the beat)
            self.crashes_in_a_row = 1 if now - self.started_at >= RESTART_RESET else self.crashes_in_a_row + 1
            delay = 0 if self.crashes_in_a_row == 1 else min(2 ** (self.crashes_in_a_row - 1), RESTART_DELAY_MAX)
            print(f"evchong: {self.name} exited with {code}; starting it again in {delay} s "
                  f"(restart {self.restarts + 1})", file=sys.stderr, flush=True)
            self.process, self.due = None, now + delay
        if now >= self.due:
            self.restarts += 1
            self.start()
            record_restarts()

    def signal_group(self, signum: int) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.signal_group(signal.SIGTERM)

    def wait(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            pass
        self.signal_group(signal.SIGKILL)  # the group, whatever is left of it
        # SIGKILL is delivered, not done: wait (a few seconds at most) until no process of the group
        # is left, so that once we exit, everything we started is gone.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.05)


CHILDREN: list[Child] = []
RESTARTS_FILE = "supervisor.json"


def supervisor_state(var_dir=None) -> dict:
    """What the supervisor records of its processes ({name: {"restarts", "pid"}}), {} when `make run`
    is not running: for /metrics and the dashboard."""
    try:
        return json.loads(((var_dir or VAR_DIR) / RESTARTS_FILE).read_text())
    except (OSError, ValueError):
        return {}


def record_restarts() -> None:
    """Restarts so far per child, for /metrics (evchong.health) and the admin's dashboard."""
    state = {child.name: {"restarts": child.restarts,
                          "pid": child.process.pid if child.process is not None else None} for child in CHILDREN}
    try:
        (VAR_DIR / RESTARTS_FILE).write_text(json.dumps(state))
    except OSError:
        pass


def main() -> int:
    # Before anything reads a setting: with two server processes, listening_socket does, before
    # daphne_command would have set it ("settings are not configured" on every 2-core machine).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evchong.settings")
    # The beat's schedule, the FTP server's record and our own live here, private services or not.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
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
    sockets = []
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
        # The listening socket stays open here too, so that a server process started again finds it.
        fds = [sock.fileno() for sock in sockets]
        CHILDREN[:] = [Child(f"web-{n}", command, env, fds) for n, command in enumerate(web)]
        CHILDREN.extend([Child("worker", worker, env, []), Child("ftp", ftp, env, []),
                         Child("kotodian-bridge", bridge, env, [])])
        for child in CHILDREN:
            child.start()
        record_restarts()
        from django.conf import settings  # loaded by the web commands, once the services were up

        print(f"evchong: serving on http://{host}:{port}/ with {processes} {server} process(es),"
              f" firmware on ftp://{settings.FTP_HOST}:{settings.FTP_PORT}/  (Ctrl-C stops everything)", flush=True)
        # Installed explicitly: a shell that starts us in the background sets SIGINT to "ignore".
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _interrupt)
        while True:
            for child in CHILDREN:
                child.check()
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    except subprocess.CalledProcessError as exc:
        return exc.returncode
    finally:
        for child in reversed(CHILDREN):
            child.stop()
        for child in reversed(CHILDREN):
            child.wait()
        for sock in sockets:
            sock.close()
        (VAR_DIR / RESTARTS_FILE).unlink(missing_ok=True)
        if local:
            local.stop()
        print("evchong: stopped", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
