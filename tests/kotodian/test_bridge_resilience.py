"""The bridge never gives up: when its broker goes away it connects again (with back-off) and serves
as before. A broker of the test's own, so that the session's broker stays up for the others."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import localservices
from kotodian_boxes import KotodianBox, wait_until_serving
from kotodian.proto import charger_pb2 as pb
from servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def start_broker(port: int, directory: Path) -> subprocess.Popen:
    """The private broker as `make test` runs it (logins checked), on a port of the test's own."""
    from django.conf import settings

    proc = localservices.start_broker(port, directory, settings.KOTODIAN_MQTT_SECRETS[0], stdout=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def own_broker(tmp_path, settings):
    port = free_port()
    holder = {"proc": start_broker(port, tmp_path)}
    settings.MQTT_URL = f"mqtt://127.0.0.1:{port}"  # for the test's boxes (tests/kotodian/conftest.py)
    yield port, holder, tmp_path
    stop(holder["proc"])


def test_the_bridge_comes_back_after_the_broker_went_away(own_broker, server_env, transactional_db, make_box,
                                                          serial):
    port, holder, directory = own_broker
    make_box(serial)
    log_dir = Path(os.environ.get("EVCHONG_VAR") or directory)
    with open(log_dir / "kotodian-bridge-resilience.log", "w") as log:
        bridge = subprocess.Popen(
            [sys.executable, "manage.py", "kotodianbridge"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**server_env, "MQTT_URL": f"mqtt://127.0.0.1:{port}", "OCPP_BOX_REFRESH": "0",
                 "KOTODIAN_RECONNECT_DELAY": "0.2"})
    try:
        wait_until_serving(bridge)
        stop(holder["proc"])
        time.sleep(1.5)  # the bridge has lost the broker and is trying again, not exited
        assert bridge.poll() is None
        holder["proc"] = start_broker(port, directory)
        wait_until_serving(bridge)
        box = KotodianBox(serial)
        try:
            assert box.register().message.status == 0
        finally:
            box.close()
    finally:
        bridge.terminate()
        bridge.wait(10)
