"""Several bridges share the uplink topics through an MQTT shared subscription ($share/GROUP/...,
KOTODIAN_SHARED_GROUP): each message is handled by exactly one of them. amqtt, the private broker,
has no shared subscriptions, so this runs against the Mosquitto 2 of this machine (127.0.0.1:1883,
as CI has it), on topics of a prefix of its own so that nothing else there is disturbed."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kotodian_boxes import KotodianBox, wait_until_serving

from chargers.models import JournalEntry
from kotodian.liveness import bridges_connected
from kotodian.proto import charger_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
MOSQUITTO = ("127.0.0.1", 1883)


def mosquitto_reachable() -> bool:
    try:
        socket.create_connection(MOSQUITTO, timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def shared_bridges(server_env, settings, transactional_db):
    """``start() -> process``: bridges on Mosquitto in one shared-subscription group; the Redis
    database of their liveness claims is their own, so that they can be counted."""
    if not mosquitto_reachable():
        pytest.skip("no MQTT broker with shared subscriptions at 127.0.0.1:1883 (Mosquitto 2 on this machine)")
    settings.REDIS_URL = settings.REDIS_URL.rsplit("/", 1)[0] + "/8"
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    run = uuid.uuid4().hex[:8]
    env = {**server_env, "MQTT_URL": "mqtt://{}:{}".format(*MOSQUITTO), "REDIS_URL": settings.REDIS_URL,
           "KOTODIAN_SHARED_GROUP": f"evchong-{run}", "KOTODIAN_TOPIC_PREFIX": f"evchong-test-{run}",
           "OCPP_BOX_REFRESH": "0"}
    procs = []

    def start() -> subprocess.Popen:
        procs.append(subprocess.Popen([sys.executable, "manage.py", "kotodianbridge"], cwd=ROOT, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return procs[-1]

    start.prefix = env["KOTODIAN_TOPIC_PREFIX"]
    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


def eventually(predicate, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.2)


def test_two_bridges_in_a_shared_group_handle_each_message_exactly_once(shared_bridges, make_box):
    where = {"prefix": shared_bridges.prefix, "address": MOSQUITTO}
    first = shared_bridges()
    wait_until_serving(first, **where)
    second = shared_bridges()
    eventually(lambda: bridges_connected() == 2)  # each claims only once it is subscribed
    serial = f"KT-SH-{uuid.uuid4().hex[:8]}"
    row = make_box(serial, connectors=1)
    box = KotodianBox(serial, **where)
    try:
        assert box.register().message.status == 0
        assert box.boot().message.status == 0
        sent = [box.send("C", pb.ID_HeartbeatReq, pb.HeartbeatReq()) for _ in range(40)]
        for sequence_id in sent:
            box.reply(sequence_id)
        time.sleep(1)  # room for a second answer, were a message handled twice
        assert all(box.answered[sequence_id] == 1 for sequence_id in sent)
        # One bridge goes: the group's other member takes every message from then on.
        first.terminate()
        first.wait(10)
        eventually(lambda: bridges_connected() == 1)
        later = [box.send("C", pb.ID_HeartbeatReq, pb.HeartbeatReq()) for _ in range(10)]
        for sequence_id in later:
            assert box.reply(sequence_id)[1].message_id == pb.ID_HeartbeatConf
        assert second.poll() is None
    finally:
        box.close()
    assert JournalEntry.objects.filter(box=row, action="Heartbeat", direction="in").count() == 50
