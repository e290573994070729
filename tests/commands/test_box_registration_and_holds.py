"""Small gaps of issue 24: a remote stop's hold on a session ends when its StopTransaction arrives;
commands to a Rejected box are refused before sending (API and admin say why); accepting a Pending
box in the admin asks it to boot again at once (TriggerMessage BootNotification), seen by a real
OCPP box on a WebSocket through a real Celery worker."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone
from websockets.sync.client import connect

from chargers.models import ChargeBox
from commands.models import Command, CommandState
from commands.outcomes import Outcome
from commands.services import box_accept, command_issue, command_settle, remote_start_issue, remote_stop_issue
from staff import PASSWORD
from transactions.services import transaction_start, transaction_stop


@pytest.mark.django_db
class TestRemoteStopHold:
    def test_the_hold_ends_when_the_stop_arrives(self, make_connected_box):
        box = make_connected_box("HOLD-1")
        tx = transaction_start(box=box, connector_id=1, id_tag="X", meter_start_wh=0,
                               timestamp=timezone.now()).transaction
        stop = remote_stop_issue(box=box, transaction_id=tx.pk)
        command_settle(command_id=stop.pk, outcome=Outcome.answered({"status": "Accepted"}))
        assert Command.objects.get(pk=stop.pk).claim_until is not None
        transaction_stop(box=box, transaction_id=tx.pk, meter_stop_wh=100, timestamp=timezone.now())
        assert Command.objects.get(pk=stop.pk).claim_until is None
        # A later stop hears the truth, not "in flight" for the rest of the minute.
        assert remote_stop_issue(box=box, transaction_id=tx.pk).error_description == (
            "the charging session has already stopped")

    def test_a_stop_of_another_session_keeps_the_hold(self, make_connected_box):
        box = make_connected_box("HOLD-2")
        one = transaction_start(box=box, connector_id=1, id_tag="X", meter_start_wh=0,
                                timestamp=timezone.now()).transaction
        other = transaction_start(box=box, connector_id=2, id_tag="Y", meter_start_wh=0,
                                  timestamp=timezone.now()).transaction
        stop = remote_stop_issue(box=box, transaction_id=one.pk)
        command_settle(command_id=stop.pk, outcome=Outcome.answered({"status": "Accepted"}))
        transaction_stop(box=box, transaction_id=other.pk, meter_stop_wh=100, timestamp=timezone.now())
        assert Command.objects.get(pk=stop.pk).claim_until is not None


@pytest.mark.django_db
class TestRejectedBox:
    @pytest.fixture
    def box(self, make_connected_box):
        box = make_connected_box("REJ-1")
        ChargeBox.objects.filter(pk=box.pk).update(registration_status="Rejected")
        box.refresh_from_db()
        return box

    @pytest.mark.parametrize("action, payload", [("Reset", {"type": "Soft"}), ("GetConfiguration", {}),
                                                 ("TriggerMessage", {"requestedMessage": "BootNotification"})])
    def test_commands_are_refused_before_sending(self, box, action, payload):
        command = command_issue(box=box, action=action, payload=payload)
        assert (command.state, command.error_code, command.error_description, command.sent_at) == (
            "rejected", "Refused", "the charge box is rejected: accept it before sending it commands", None)

    def test_a_remote_start_is_refused_too(self, box):
        assert remote_start_issue(box=box, connector_id=1, id_tag="CARD").error_description == (
            "the charge box is rejected: accept it before sending it commands")

    def test_the_operations_api_says_why(self, box, backend_token, client):
        answer = client.post(f"/api/v1/boxes/{box.serial}/commands", {"action": "Reset", "payload": {"type": "Soft"}},
                             content_type="application/json", HTTP_AUTHORIZATION=f"Token {backend_token}")
        body = answer.json()
        assert (answer.status_code, body["state"], body["error"]) == (200, "rejected", {
            "code": "Refused", "description": "the charge box is rejected: accept it before sending it commands"})

    def test_the_admin_says_why(self, box, operations_user, client):
        client.login(username=operations_user.username, password=PASSWORD)
        page = client.post(reverse("admin:chargers_chargebox_command_send", args=[box.pk, "Reset"]),
                           {"type": "Soft"}, follow=True)
        assert "the charge box is rejected: accept it before sending it commands" in page.content.decode()

    def test_a_pending_box_may_still_be_sent_calls(self, make_connected_box):
        box = make_connected_box("PEND-0")
        ChargeBox.objects.filter(pk=box.pk).update(registration_status="Pending")
        box.refresh_from_db()
        assert command_issue(box=box, action="GetConfiguration", payload={}).state == CommandState.QUEUED


@pytest.mark.django_db
def test_accepting_an_accepted_box_sends_nothing(make_connected_box):
    box = make_connected_box("ACC-1")
    assert box_accept(box=box) is None
    assert not Command.objects.exists()


@pytest.fixture
def pending_box(transactional_db, make_box):
    box = make_box("PEND-1")
    ChargeBox.objects.filter(pk=box.pk).update(registration_status="Pending")
    return box


def boot(ws) -> str:
    ws.send(json.dumps([2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]))
    reply = json.loads(ws.recv(timeout=10))
    assert reply[:2] == [3, "b"], reply
    return reply[2]["status"]


def accept_in_admin(client, box, user):
    client.login(username=user.username, password=PASSWORD)
    change = client.get(reverse("admin:chargers_chargebox_change", args=[box.pk]))
    form = change.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update({"registration_status": "Accepted", "station": "", "heartbeat_interval": "",
                 "_save": "Save"})
    for inline in change.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(name): value for name, value in management.initial.items()})
        for number, subform in enumerate(inline.formset.forms):
            data[f"{inline.formset.prefix}-{number}-id"] = subform.instance.pk
            data[f"{inline.formset.prefix}-{number}-box"] = box.pk
            if "connector_id" in subform.fields:
                data[f"{inline.formset.prefix}-{number}-connector_id"] = subform.instance.connector_id
    return client.post(reverse("admin:chargers_chargebox_change", args=[box.pk]), data, follow=True)


def test_accepting_a_pending_box_in_the_admin_asks_it_to_boot(pending_box, live_server_url, celery_worker,
                                                            operations_user, client):
    url = live_server_url.replace("http://", "ws://") + "/ocpp/PEND-1"
    with connect(url, subprotocols=["ocpp1.6"], open_timeout=10) as ws:
        assert boot(ws) == "Pending"
        page = accept_in_admin(client, pending_box, operations_user)
        assert "Asked 1 box(es) to boot again" in page.content.decode()
        assert ChargeBox.objects.get(pk=pending_box.pk).registration_status == "Accepted"
        call = json.loads(ws.recv(timeout=10))
        assert call[0] == 2 and call[2:] == ["TriggerMessage", {"requestedMessage": "BootNotification"}]
        ws.send(json.dumps([3, call[1], {"status": "Accepted"}]))
        assert boot(ws) == "Accepted"  # at once, not at the box's next retry
    command = Command.objects.get(box=pending_box)
    assert (command.action, command.source, command.requested_by) == ("TriggerMessage", "admin", operations_user)


def test_the_admin_accept_action_asks_each_box_to_boot(pending_box, live_server_url, celery_worker, operations_user,
                                                      client):
    url = live_server_url.replace("http://", "ws://") + "/ocpp/PEND-1"
    with connect(url, subprotocols=["ocpp1.6"], open_timeout=10) as ws:
        assert boot(ws) == "Pending"
        client.login(username=operations_user.username, password=PASSWORD)
        client.post(reverse("admin:chargers_chargebox_changelist"),
                    {"action": "accept_boxes", "_selected_action": [pending_box.pk]})
        call = json.loads(ws.recv(timeout=10))
        assert call[2:] == ["TriggerMessage", {"requestedMessage": "BootNotification"}]


def test_accepting_a_box_not_connected_sends_nothing(pending_box):
    assert box_accept(box=pending_box) is None
    assert ChargeBox.objects.get(pk=pending_box.pk).registration_status == "Accepted"
    assert not Command.objects.exists()
