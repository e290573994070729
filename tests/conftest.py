"""Shared fixtures. Everything runs on the real PostgreSQL and Redis that `make test` starts (or
the ones DATABASE_URL / REDIS_URL name): no SQLite, no fakeredis, no eager Celery."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command

from servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
# Users in the Operations and Field engineer groups (tests/staff.py), for every folder.
pytest_plugins = ["staff"]


def database_url_of(settings_dict: dict) -> str:
    host = settings_dict["HOST"] or "localhost"
    host = quote(host, safe="") if host.startswith("/") else host
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    password = f":{quote(settings_dict['PASSWORD'])}" if settings_dict.get("PASSWORD") else ""
    return f"postgres://{quote(settings_dict['USER'] or '')}{password}@{host}{port}/{settings_dict['NAME']}"


@pytest.fixture(autouse=True)
def brute_force_counters_cleared():
    """Every test starts with no failed logins counted (security.bruteforce): the tests share one
    Redis and one client address, and some fail on purpose."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter("bf:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    yield


@pytest.fixture(scope="session")
def test_database_url(django_db_setup, django_db_blocker) -> str:
    from django.db import connection

    return database_url_of(connection.settings_dict)


@pytest.fixture(scope="session")
def server_env(test_database_url) -> dict:
    from django.conf import settings

    return {
        **os.environ,
        "DATABASE_URL": test_database_url,
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "evchong.settings",
    }


@pytest.fixture(scope="session")
def start_daphne(server_env):
    """Start real daphne processes on the test database: ``start_daphne(**env) -> base URL``.
    Every process started is stopped at the end of the session."""
    procs = []

    def start(**env) -> str:
        port = free_port()
        log_dir = os.environ.get("EVCHONG_VAR")
        log = open(Path(log_dir) / f"daphne-{port}.log", "w") if log_dir else subprocess.DEVNULL
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "evchong.asgi:application"],
            env={**server_env, **env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        wait_for_port(port, proc)
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# Short timeouts so a silent box costs seconds, not the default 20/25 (EVCHONG 1 f still holds).
FAST_TIMEOUTS = {"OCPP_CALL_TIMEOUT": "3", "REVERSE_API_TIMEOUT": "5"}


@pytest.fixture(scope="session")
def start_fast_daphne(start_daphne):
    """``start_fast_daphne() -> URL``: a daphne whose boxes have 3 s to answer and whose reverse
    API answers within 5 s."""
    return lambda: start_daphne(**FAST_TIMEOUTS)


@pytest.fixture(scope="session")
def fast_daphne(start_fast_daphne) -> str:
    return start_fast_daphne()


@pytest.fixture
def fast_server(fast_daphne, settings) -> str:
    """``fast_daphne``, with the same timeouts in this process: the in-process Celery worker
    stamps each call's deadline from them."""
    for name, value in FAST_TIMEOUTS.items():
        setattr(settings, name, float(value))
    return fast_daphne


@pytest.fixture(scope="session")
def live_server_url(start_daphne) -> str:
    """A real daphne process serving the test database. Tests that use it need `transactional_db`
    so that what they write is committed and visible to the server."""
    return start_daphne()


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (in a thread of this process) consuming from the real Redis broker."""
    from celery.contrib.testing.worker import start_worker

    from evchong.celery import app

    app.control.purge()  # tasks queued by earlier tests refer to rows that are gone
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


@pytest.fixture
def make_box(db):
    def make(serial="BOX-1", connectors=2, password=None, **options):
        args = [serial, "--connectors", str(connectors)]
        if password:
            args += ["--password", password]
        for key, value in options.items():
            args += [f"--{key}", value]
        call_command("addbox", *args, stdout=open(os.devnull, "w"))
        from chargers.models import ChargeBox

        return ChargeBox.objects.get(serial=serial)

    return make


@pytest.fixture
def make_connected_box(make_box):
    """make_connected_box(serial): a box with two connectors that the database says is connected
    over OCPP, for tests of issuing commands without a real connection."""

    def make(serial: str):
        from chargers.models import ChargeBox

        box = make_box(serial, connectors=2)
        ChargeBox.objects.filter(pk=box.pk).update(protocol="ocpp1.6", connected_node="test-node")
        box.refresh_from_db()
        return box

    return make


@pytest.fixture
def make_tag(db):
    def make(tag, status=None, expiry=None, parent=None):
        args = [tag]
        if status:
            args += ["--status", status]
        if expiry:
            args += ["--expiry", expiry]
        if parent:
            args += ["--parent", parent]
        call_command("addidtag", *args, stdout=open(os.devnull, "w"))
        from chargers.models import IdTag

        return IdTag.objects.get(id_tag=tag)

    return make


@pytest.fixture
def wait_for():
    """``wait_for(condition, timeout=10)``: for what the server does after it has answered."""

    def wait(condition, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError("condition not met in time")

    return wait
