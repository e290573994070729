"""/healthz reports the MQTT edge: ok while a Kotodian bridge is connected, degraded when none is,
and the check itself stays 200 (OCPP and EVCHONG are served either way)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from kotodian_boxes import wait_until_serving

ROOT = Path(__file__).resolve().parents[2]


def mqtt_health(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    return response.status_code, response.json()


def eventually(predicate, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.fixture
def own_redis_db(settings):
    """A Redis database no other bridge of the test session writes its claim to."""
    url = settings.REDIS_URL.rsplit("/", 1)[0] + "/9"
    settings.REDIS_URL = url
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


@pytest.mark.django_db
def test_healthz_says_degraded_without_a_bridge_and_ok_while_one_is_connected(client, server_env, own_redis_db):
    code, body = mqtt_health(client)
    assert code == 200 and body["status"] == "ok"
    assert body["mqtt"] == "degraded: no Kotodian bridge connected to the broker"
    bridge = subprocess.Popen([sys.executable, "manage.py", "kotodianbridge"], cwd=ROOT,
                              env={**server_env, "REDIS_URL": own_redis_db}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(bridge)
        assert eventually(lambda: mqtt_health(client)[1]["mqtt"] == "ok")
    finally:
        bridge.terminate()
        bridge.wait(10)
    # A bridge that stops gives up its claim at once; one killed would drop out within 15 s.
    assert eventually(lambda: mqtt_health(client)[1]["mqtt"].startswith("degraded"), timeout=5)
    assert mqtt_health(client)[0] == 200
