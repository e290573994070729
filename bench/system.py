"""The system under test, started the way `make run` starts it, on private PostgreSQL and Redis
under var/bench (never the ones DATABASE_URL / REDIS_URL name: the bench wipes its database).

``python -m bench.system [--boxes N]`` starts it and waits for Ctrl-C, for trying the simulator
by hand against a provisioned system.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.localservices import DATABASE_NAME, LocalServices  # noqa: E402

# BENCH_VAR lets two benches run side by side (each its own PostgreSQL, Redis and logs).
# `or`, not a default: make exports the knobs it names even when they are unset, as empty strings,
# and ROOT / "" is the checkout itself.
BENCH_VAR = ROOT / (os.environ.get("BENCH_VAR") or "var/bench")
PREFIX, TAG_PREFIX = "SIM", "SIMTAG"
API_USER = "bench"


from core.ports import free_port  # noqa: E402  (bench.run and bench.kotodian import it from here)


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:3]} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def stop_process(proc: subprocess.Popen | None, timeout: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class System:
    """Private services, a fresh database with boxes, tags and an API token, daphne and a worker."""

    def __init__(self, boxes: int, connectors: int = 2, log_dir: Path | None = None,
                 server: str = "daphne", settings: str = "evchong.settings"):
        self.boxes, self.connectors = boxes, connectors
        self.log_dir = log_dir or BENCH_VAR / "logs"
        self.services = LocalServices(BENCH_VAR)
        self.port = 0
        self.token = ""
        self.server = server  # "daphne" (make run's default) or "uvicorn" (make run SERVER=uvicorn)
        self.web: subprocess.Popen | None = None  # the first (or only) server process
        self.webs: list[subprocess.Popen] = []
        # WEB_PROCESSES=N: N server processes on one socket, as `make run` reads it.
        from core.stack import web_processes

        self.processes = web_processes(os.environ)
        self.worker: subprocess.Popen | None = None
        self.settings = settings
        self.env: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "System":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.services.start()
        self.env = {
            **os.environ, **self.services.environ(), "DJANGO_SETTINGS_MODULE": self.settings,
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        }
        # As core.stack sets it for `make run`: worker threads for database work.
        self.env.setdefault("ASGI_THREADS", "32")
        # A bench box stands for many: the REST scenarios' 20-50 boxes send back to back (100 and
        # more requests a second each) what thousands of boxes would, and the per-box and per-token
        # rate limits (security, docs/adr/0026) refused them with 429. The limits are not what the
        # bench measures; a variable set in the environment still wins.
        for name in ("FORWARD_RATE_PER_SECOND", "OCPP_RATE_PER_SECOND", "API_RATE_PER_SECOND"):
            self.env.setdefault(name, "1000000")
        self._fresh_database()
        py = sys.executable
        subprocess.run([py, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env, check=True)
        self._provision()
        self._start_web()
        self._start_worker()
        return self

    def _start_worker(self) -> None:
        # The worker delivers reverse commands (Celery); beat runs the journal trim as in production.
        self.worker = self._spawn("worker", [
            sys.executable, "-m", "celery", "-A", "evchong", "worker", "--beat", "--loglevel", "WARNING",
            "--concurrency", os.environ.get("CELERY_CONCURRENCY", "2"),
            "-s", str(BENCH_VAR / "celerybeat-schedule"),
        ])

    def restart_worker(self) -> None:
        """The worker and beat again, with ``env`` as it stands now (a scenario added settings)."""
        stop_process(self.worker)
        self._start_worker()

    def _start_web(self, processes: int | None = None) -> None:
        from core.stack import web_commands

        # Exactly what `make run` serves with; its settings are read with the bench's services.
        os.environ.update({**self.services.environ(), "LOG_LEVEL": self.env["LOG_LEVEL"]})
        self.port = free_port()
        commands, sockets = web_commands(sys.executable, "127.0.0.1", str(self.port), self.server,
                                         processes or self.processes)
        self.webs = [self._spawn("web", command, pass_fds=[sock.fileno() for sock in sockets]) for command in commands]
        for sock in sockets:
            sock.close()
        self.web = self.webs[0]
        wait_for_port(self.port, self.web)

    def _spawn(self, name: str, command: list[str], pass_fds=()) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        return subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, pass_fds=pass_fds)

    def _fresh_database(self) -> None:
        import psycopg
        import redis

        socket_dir = _socket_dir_of_url(self.services.database_url)
        with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
            # BENCH_DB_SET="synchronous_commit=off,...": PostgreSQL settings for this database only,
            # to measure what the database costs (never a recommendation by itself).
            for setting in filter(None, (os.environ.get("BENCH_DB_SET") or "").split(",")):
                name, _, value = setting.partition("=")
                conn.execute(f'ALTER DATABASE "{DATABASE_NAME}" SET {name.strip()} = \'{value.strip()}\'')
        redis.Redis.from_url(self.services.redis_url).flushall()

    def _provision(self) -> None:
        out = subprocess.run(
            [sys.executable, "-m", "bench.provision", "--boxes", str(self.boxes), "--connectors", str(self.connectors),
             "--prefix", PREFIX, "--tag-prefix", TAG_PREFIX, "--api-user", API_USER],
            cwd=ROOT, env=self.env, check=True, capture_output=True, text=True,
        )
        self.token = out.stdout.strip().splitlines()[-1]

    def restart_web(self, processes: int | None = None) -> None:
        """Fresh server processes (``processes`` of them, else as configured): RSS and caches from a
        previous scenario must not carry over."""
        for web in self.webs:
            stop_process(web)
        self._start_web(processes)

    def reset_state(self) -> None:
        """Forget what a scenario left behind (sessions, commands, journal) without re-provisioning."""
        subprocess.run([sys.executable, "-m", "bench.provision", "--reset"], cwd=ROOT, env=self.env, check=True)

    def stop(self) -> None:
        stop_process(self.worker)
        for web in self.webs:
            stop_process(web)
        self.services.stop()


def _socket_dir_of_url(database_url: str) -> str:
    # LocalServices writes postgres://postgres@<percent-encoded socket directory>/evchong
    return unquote(database_url.split("@", 1)[1].rsplit("/", 1)[0])


def main() -> int:
    parser = argparse.ArgumentParser(description="Start the system as the bench does, and wait for Ctrl-C.")
    parser.add_argument("--boxes", type=int, default=100)
    args = parser.parse_args()
    system = System(args.boxes)
    try:
        system.start()
        print(f"url {system.url}\ntoken {system.token}\nweb pid {system.web.pid}", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        while system.web.poll() is None:
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        system.stop()


if __name__ == "__main__":
    sys.exit(main())
