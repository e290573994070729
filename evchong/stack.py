"""`make run`: private services (unless URLs are given), migrations, daphne and a Celery worker
with its beat; Ctrl-C stops everything it started, in reverse order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from evchong.localservices import VAR_DIR, services_for


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def daphne_command(py: str, host: str, port: str) -> list[str]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evchong.settings")
    from django.conf import settings  # read once the private services are up: settings find them

    return [
        # An endpoint string instead of -b/-p: Twisted's default listen backlog of 50 drops
        # connection attempts when thousands of boxes reconnect after a power cut.
        py, "-m", "daphne", "-e", f"tcp:port={port}:interface={host}:backlog={settings.LISTEN_BACKLOG}",
        # No idle cut-off of healthy WebSocket connections (daphne's default is 24 h).
        "--websocket_timeout", "-1",
        # Server pings keep the NAT and mobile-network paths to charge boxes open, and find dead ones.
        "--ping-interval", str(settings.OCPP_PING_INTERVAL), "--ping-timeout", str(settings.OCPP_PING_TIMEOUT),
        "--proxy-headers", "evchong.asgi:application",
    ]


def main() -> int:
    env, local = services_for(VAR_DIR)
    env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": "evchong.settings"}
    # Worker threads for database work (asgiref reads ASGI_THREADS); the pool (DB_POOL_MAX, 40) is
    # larger, so that threads never queue for a connection (docs/performance.md).
    env.setdefault("ASGI_THREADS", "32")
    port = env.get("PORT", "8000")
    host = env.get("HOST", "127.0.0.1")
    py = sys.executable
    children: list[subprocess.Popen] = []
    try:
        subprocess.run([py, "manage.py", "migrate", "--noinput"], env=env, check=True)
        commands = [
            daphne_command(py, host, port),
            [py, "-m", "celery", "-A", "evchong", "worker", "--beat", "--loglevel", env.get("LOG_LEVEL", "INFO"),
             "--concurrency", env.get("CELERY_CONCURRENCY", "2"), "-s", str(VAR_DIR / "celerybeat-schedule")],
        ]
        for command in commands:
            # Own process groups: the terminal's Ctrl-C reaches only us, and we stop them in order.
            children.append(subprocess.Popen(command, env=env, start_new_session=True))
        print(f"evchong: serving on http://{host}:{port}/  (Ctrl-C stops everything)", flush=True)
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
