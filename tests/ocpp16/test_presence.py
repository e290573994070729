"""Online means connected (chargers.presence): a WebSocket box is online while its connection is open
and its server process lives, however long it stays silent; the read API, the admin and the status
pages say the same; a server process that dies takes its boxes offline once its lease runs out."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from websockets.sync.client import connect

from chargers.models import ChargeBox
from chargers.presence import online_q
from chargers.services import boxes_of_dead_processes_release
from commands.services import command_issue
from servers import free_port, wait_for_port
from staff import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
# Committed rows: the servers read them.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(transactional_db):
    out = io.StringIO()
    call_command("apitoken", "backend", stdout=out)
    return out.getvalue().strip()


def read_box(base_url: str, token: str, serial: str) -> dict:
    request = urllib.request.Request(f"{base_url}/api/v1/boxes/{serial}", headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def daphne_process(server_env):
    """``daphne_process(**env) -> (base URL, Popen)``: a daphne of this test's own, to kill."""
    procs = []

    def start(**env):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "evchong.asgi:application"],
            env={**server_env, **env}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        procs.append(proc)
        wait_for_port(port, proc)
        return f"http://127.0.0.1:{port}", proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def boot(ws) -> dict:
    ws.send(json.dumps([2, "boot", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]))
    return json.loads(ws.recv(timeout=10))[2]


def test_an_idle_connected_box_stays_online_past_many_heartbeat_intervals(make_box, token, daphne_process):
    # Heartbeats every second, offline after two missed: before, a box silent for 2 s showed offline.
    base, _ = daphne_process(HEARTBEAT_INTERVAL="1", MISSED_HEARTBEATS_OFFLINE="2")
    make_box("IDLE-1")
    with connect(base.replace("http", "ws") + "/ocpp/IDLE-1", subprotocols=["ocpp1.6"], open_timeout=10) as ws:
        assert boot(ws)["interval"] == 1
        assert read_box(base, token, "IDLE-1")["online"] is True
        time.sleep(5)  # five heartbeat intervals without a word from the box
        assert read_box(base, token, "IDLE-1")["online"] is True
    deadline = time.monotonic() + 10
    while read_box(base, token, "IDLE-1")["online"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert read_box(base, token, "IDLE-1")["online"] is False


def test_a_dead_server_process_takes_its_boxes_offline_when_its_lease_runs_out(make_box, token, daphne_process,
                                                                              live_server_url):
    base, proc = daphne_process(PRESENCE_LEASE_SECONDS="2")
    make_box("CRASH-1")
    with connect(base.replace("http", "ws") + "/ocpp/CRASH-1", subprotocols=["ocpp1.6"], open_timeout=10,
                 close_timeout=1) as ws:
        assert boot(ws)["status"] == "Accepted"
        assert read_box(live_server_url, token, "CRASH-1")["online"] is True
        time.sleep(3)  # the lease is renewed while the process lives
        assert read_box(live_server_url, token, "CRASH-1")["online"] is True

        os.kill(proc.pid, signal.SIGKILL)  # no disconnect is ever recorded
        proc.wait(10)
        held = ChargeBox.objects.get(serial="CRASH-1")
        assert held.connected_node  # as the dead process left it
        time.sleep(2.5)
        assert read_box(live_server_url, token, "CRASH-1")["online"] is False
        assert not ChargeBox.objects.get(serial="CRASH-1").is_online

        # The sweep releases the box: commands are refused as to a box not connected, not sent into the void.
        assert boxes_of_dead_processes_release() == 1
        command = command_issue(box=ChargeBox.objects.get(serial="CRASH-1"), action="Reset", payload={"type": "Soft"})
        assert (command.state, command.error_description) == ("rejected", "the charge box is not connected")


def test_the_sweep_leaves_boxes_of_live_processes_alone(make_box, connect_box, wait_for):
    make_box("LIVE-1")
    connect_box("LIVE-1")
    assert boxes_of_dead_processes_release() == 0
    assert ChargeBox.objects.get(serial="LIVE-1").is_online


def test_admin_status_page_and_api_use_the_one_rule(make_box, connect_box, token, live_server_url, operations_user,
                                                    client, settings):
    settings.HEARTBEAT_INTERVAL = 1
    make_box("RULE-ON")
    make_box("RULE-GONE")
    # Connected once, through a process that no longer exists: still named in connected_node.
    ChargeBox.objects.filter(serial="RULE-GONE").update(protocol="ocpp1.6", connected_node="gone:1:dead/x",
                                                       last_seen=timezone.now())
    connect_box("RULE-ON")
    ChargeBox.objects.filter(serial="RULE-ON").update(last_seen=timezone.now() - timedelta(hours=1))

    assert list(ChargeBox.objects.filter(online_q()).values_list("serial", flat=True)) == ["RULE-ON"]
    assert read_box(live_server_url, token, "RULE-ON")["online"] is True
    assert read_box(live_server_url, token, "RULE-GONE")["online"] is False
    client.login(username=operations_user.username, password=PASSWORD)
    listing = client.get(reverse("admin:chargers_chargebox_changelist"), {"online": "yes"})
    assert [box.serial for box in listing.context["cl"].result_list] == ["RULE-ON"]
    assert [box.is_online for box in listing.context["cl"].result_list] == [True]
    search = client.get(reverse("status:boxes"), {"state": "online"})
    assert [box.serial for box in search.context["boxes"]] == ["RULE-ON"]
    assert client.get(reverse("status:dashboard")).context["dashboard"].online == 1


def test_a_kotodian_box_is_online_until_silent_for_its_heartbeats(make_box, settings):
    box = make_box("KOTO-1")
    ChargeBox.objects.filter(pk=box.pk).update(protocol="kotodian", connected_node="kotodian-mqtt",
                                               heartbeat_interval=60, last_seen=timezone.now() - timedelta(seconds=170))
    assert ChargeBox.objects.get(pk=box.pk).is_online  # within 3 intervals (KOTODIAN_SILENT_HEARTBEATS)
    ChargeBox.objects.filter(pk=box.pk).update(last_seen=timezone.now() - timedelta(seconds=190))
    assert not ChargeBox.objects.get(pk=box.pk).is_online


def test_a_forward_api_box_is_online_by_the_age_of_its_last_message(make_box):
    box = make_box("FWD-1")
    ChargeBox.objects.filter(pk=box.pk).update(protocol="evchong", heartbeat_interval=30,
                                               last_seen=timezone.now() - timedelta(seconds=50))
    assert ChargeBox.objects.get(pk=box.pk).is_online  # two intervals: 60 s
    ChargeBox.objects.filter(pk=box.pk).update(last_seen=timezone.now() - timedelta(seconds=70))
    assert not ChargeBox.objects.get(pk=box.pk).is_online
