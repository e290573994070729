"""Kotodian boxes over MQTT, for real: the MQTT broker `make test` starts (MQTT_URL), the bridge as a
process of its own on the test database (``kotodian_bridge``), and boxes that are paho clients
speaking APDUs (``kotodian_box``)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from kotodian_boxes import KotodianBox, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
# The bridge re-reads a box for every message, so what a test changes in the database counts at once.
BRIDGE_ENV = {"OCPP_BOX_REFRESH": "0", "LOG_LEVEL": "INFO"}


@pytest.fixture(scope="session")
def kotodian_bridge(server_env):
    """``python manage.py kotodianbridge`` on the test database and the test broker, for the session."""
    log_dir = os.environ.get("EVCHONG_VAR")
    log = open(Path(log_dir) / "kotodian-bridge.log", "w") if log_dir else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "manage.py", "kotodianbridge"], env={**server_env, **BRIDGE_ENV},
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def serial() -> str:
    """A serial no earlier test used: the bridge keeps the boxes it has seen, by serial."""
    return f"KT-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def kotodian_box(kotodian_bridge, transactional_db):
    """``kotodian_box(code, answers=None) -> KotodianBox`` connected to the broker."""
    boxes = []

    def make(code: str, **options) -> KotodianBox:
        box = KotodianBox(code, **options)
        boxes.append(box)
        return box

    yield make
    for box in boxes:
        box.close()


@pytest.fixture
def booted(kotodian_box, make_box, serial):
    """A Kotodian box added with ``addbox``, registered and booted: ``(box row, KotodianBox)``."""
    row = make_box(serial, connectors=2)
    box = kotodian_box(serial)
    assert box.register().message.status == 0
    assert box.boot().message.status == 0
    return row, box


@pytest.fixture
def api_token(transactional_db) -> str:
    """A token of `manage.py apitoken`, which may send every command."""
    out = io.StringIO()
    call_command("apitoken", "ops", stdout=out)
    return out.getvalue().strip()


@pytest.fixture(autouse=True)
def no_stale_replies():
    """No reply of an earlier test waits in Redis (COMMAND_REPLY_TTL_SECONDS) under a command id
    that the emptied test database hands out again: the reverse API would answer with it."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    stale = list(client.scan_iter(match="evchong:command:*:reply", count=1000))
    if stale:
        client.delete(*stale)
    client.close()
