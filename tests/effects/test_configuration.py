"""The box's configuration inventory (chargers.configuration, applied by commands.effects): what
GetConfiguration answers and accepted ChangeConfiguration calls leave, HeartbeatInterval and
MeterValueSampleInterval mirrored on the box's row, and how the admin shows and refreshes it."""

from __future__ import annotations

import io
import json
import urllib.request

import pytest
from django.core.management import call_command
from django.urls import reverse

from chargers.models import ChargeBox, ConfigurationKey
from commands.models import Command
from simbox import SimBox
from staff import PASSWORD

FULL_READ = {
    "configurationKey": [
        {"key": "HeartbeatInterval", "readonly": False, "value": "120"},
        {"key": "MeterValueSampleInterval", "readonly": False, "value": "15"},
        {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
        {"key": "AuthorizationKey", "readonly": False},  # write-only keys come without a value
    ],
}


def inventory(box) -> dict:
    return {k.key: (k.value, k.readonly, k.reboot_required) for k in ConfigurationKey.objects.filter(box=box)}


@pytest.mark.django_db
class TestInventory:
    def test_a_get_configuration_answer_is_kept_and_applied_to_the_box(self, box, send):
        send(box, "GetConfiguration", {}, FULL_READ)
        assert inventory(box) == {"HeartbeatInterval": ("120", False, False),
                                  "MeterValueSampleInterval": ("15", False, False),
                                  "NumberOfConnectors": ("2", True, False), "AuthorizationKey": ("", False, False)}
        box.refresh_from_db()
        assert (box.heartbeat_interval, box.meter_value_sample_interval) == (120, 15)

    def test_an_accepted_change_is_kept_and_heartbeat_interval_mirrored(self, box, send):
        send(box, "GetConfiguration", {}, FULL_READ)
        first_seen = ConfigurationKey.objects.get(box=box, key="HeartbeatInterval").last_seen
        send(box, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "300"}, {"status": "Accepted"})
        row = ConfigurationKey.objects.get(box=box, key="HeartbeatInterval")
        assert (row.value, row.readonly, row.last_seen > first_seen) == ("300", False, True)
        box.refresh_from_db()
        assert box.heartbeat_interval == 300
        assert box.effective_heartbeat_interval == 300  # what its next boot is told

    def test_a_change_that_needs_a_reboot_is_kept_marked(self, box, send):
        send(box, "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"},
             {"status": "RebootRequired"})
        assert inventory(box) == {"MeterValueSampleInterval": ("60", False, True)}
        box.refresh_from_db()
        assert box.meter_value_sample_interval == 60

    @pytest.mark.parametrize("status", ["Rejected", "NotSupported"])
    def test_a_refused_change_changes_nothing(self, box, send, status):
        command = send(box, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "300"}, {"status": status})
        assert command.state == "rejected"
        assert inventory(box) == {}
        box.refresh_from_db()
        assert box.heartbeat_interval is None

    def test_an_unanswered_change_changes_nothing(self, box, send):
        send(box, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "300"}, outcome={"status": "timeout"})
        box.refresh_from_db()
        assert (box.heartbeat_interval, inventory(box)) == (None, {})

    def test_a_readonly_key_stays_readonly_after_a_change(self, box, send):
        send(box, "GetConfiguration", {}, FULL_READ)
        send(box, "ChangeConfiguration", {"key": "NumberOfConnectors", "value": "2"}, {"status": "Accepted"})
        assert inventory(box)["NumberOfConnectors"] == ("2", True, False)

    def test_keys_the_box_calls_unknown_leave_the_inventory(self, box, send):
        send(box, "GetConfiguration", {}, FULL_READ)
        send(box, "GetConfiguration", {"key": ["AuthorizationKey", "Nonsense"]},
             {"configurationKey": [], "unknownKey": ["AuthorizationKey", "Nonsense"]})
        assert set(inventory(box)) == {"HeartbeatInterval", "MeterValueSampleInterval", "NumberOfConnectors"}

    @pytest.mark.parametrize("value", ["soon", "-5", ""])
    def test_an_interval_that_is_no_number_of_seconds_is_kept_but_not_applied(self, box, send, value):
        send(box, "GetConfiguration", {}, {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False,
                                                                  "value": value}]})
        assert inventory(box)["HeartbeatInterval"][0] == value
        box.refresh_from_db()
        assert box.heartbeat_interval is None

    def test_an_interval_of_zero_means_the_system_default(self, box, send, settings):
        ChargeBox.objects.filter(pk=box.pk).update(heartbeat_interval=300)
        send(box, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "0"}, {"status": "Accepted"})
        box.refresh_from_db()
        assert (box.heartbeat_interval, box.effective_heartbeat_interval) == (None, settings.HEARTBEAT_INTERVAL)

    def test_a_key_longer_than_ocpp_allows_is_left_out_the_rest_kept(self, box, send):
        send(box, "GetConfiguration", {}, {"configurationKey": [
            {"key": "K" * 51, "readonly": False, "value": "1"}, {"key": "HeartbeatInterval", "readonly": False,
                                                                 "value": "90"}]})
        assert set(inventory(box)) == {"HeartbeatInterval"}


@pytest.fixture
def token(transactional_db, make_box):
    make_box("CFG-1", connectors=2)
    out = io.StringIO()
    call_command("apitoken", "backend", stdout=out)
    return out.getvalue().strip()


def command(server, token, action, payload):
    body = json.dumps({"action": action, "payload": payload, "wait": True}).encode()
    request = urllib.request.Request(f"{server}/api/v1/boxes/CFG-1/commands", data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def read_box(server, token):
    request = urllib.request.Request(f"{server}/api/v1/boxes/CFG-1", headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_a_heartbeat_interval_change_is_mirrored_and_the_box_stays_online(fast_server, token, celery_worker):
    answers = {"ChangeConfiguration": {"status": "Accepted"}, "GetConfiguration": FULL_READ}
    with SimBox(fast_server, "CFG-1", answers):
        changed = command(fast_server, token, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "900"})
        assert changed["state"] == "accepted"
        assert ChargeBox.objects.get(serial="CFG-1").heartbeat_interval == 900
        assert read_box(fast_server, token)["online"] is True
        read = command(fast_server, token, "GetConfiguration", {})
        assert read["state"] == "accepted"
    assert ChargeBox.objects.get(serial="CFG-1").heartbeat_interval == 120  # as the box reported it last
    assert len(inventory(ChargeBox.objects.get(serial="CFG-1"))) == 4


def test_the_admin_shows_the_inventory_and_reads_it_again(fast_server, token, celery_worker, operations_user,
                                                          client, wait_for):
    box = ChargeBox.objects.get(serial="CFG-1")
    client.login(username=operations_user.username, password=PASSWORD)
    with SimBox(fast_server, "CFG-1", {"GetConfiguration": FULL_READ}) as sim:
        page = client.post(reverse("admin:chargers_chargebox_changelist"),
                           {"action": "read_configuration", "_selected_action": [box.pk]}, follow=True)
        assert "GetConfiguration sent to 1 box(es)" in page.content.decode()
        wait_for(lambda: Command.objects.filter(box=box, action="GetConfiguration", state="accepted").exists())
        assert sim.calls == [("GetConfiguration", {})]
    page = client.get(reverse("admin:chargers_chargebox_change", args=[box.pk])).content.decode()
    assert "MeterValueSampleInterval" in page and "NumberOfConnectors" in page


def test_read_configuration_of_a_box_not_connected_says_why(token, operations_user, client):
    box = ChargeBox.objects.get(serial="CFG-1")
    client.login(username=operations_user.username, password=PASSWORD)
    page = client.post(reverse("admin:chargers_chargebox_changelist"),
                       {"action": "read_configuration", "_selected_action": [box.pk]}, follow=True)
    assert "Not sent: CFG-1: the charge box is not connected" in page.content.decode()
