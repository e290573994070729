"""The admin's command forms for a Kotodian box: the forms of the calls its protocol has (Kotodian's
own among them), each checked as the Kotodian edge will send it before anything is queued."""

import pytest
from django.urls import reverse
from staff import PASSWORD

from chargers.models import ChargeBox
from commands.edges import command_edge
from commands.models import Command
from kotodian.handlers import NODE
from operations.command_forms import FORMS, GetLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def kotodian_box(make_box):
    box = make_box("KT-FORMS", connectors=2)
    ChargeBox.objects.filter(pk=box.pk).update(protocol="kotodian", connected_node=NODE)
    return ChargeBox.objects.get(pk=box.pk)


def logged_in(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def form_url(box, action, send=False):
    return reverse("admin:chargers_chargebox_command" + ("_send" if send else ""), args=[box.pk, action])


def test_a_kotodian_box_is_offered_the_kotodian_calls(client, operations_user, kotodian_box):
    logged_in(client, operations_user)
    page = client.get(reverse("admin:chargers_chargebox_change", args=[kotodian_box.pk])).content.decode()
    offered = {action for action in FORMS if form_url(kotodian_box, action) in page}
    assert offered == set(command_edge("kotodian").actions)
    assert {"SetTariff", "UpdateIdCardCache", "GetLog", "GetWarning", "GetTransactions"} <= offered
    for action in offered:
        assert client.get(form_url(kotodian_box, action)).status_code == 200, action
    # OCPP calls a Kotodian box has no message for are not offered, nor taken.
    assert client.get(form_url(kotodian_box, "UnlockConnector")).status_code == 403
    assert client.post(form_url(kotodian_box, "GetCompositeSchedule", send=True),
                       {"connectorId": "1", "duration": "60"}).status_code == 403


@pytest.mark.parametrize(("action", "data", "said"), [
    ("SetTariff", {"tariff": "NOPE"}, "there is no tariff"),
    ("ReserveNow", {"connectorId": "1", "idTag": "CARD", "expiryDate": "2030-01-01T10:00", "parentIdTag": "P"},
     "parentIdTag"),
    ("UpdateIdCardCache", {"idTags": '[{"idTag": "CARD"}]'}, "idTags[0].idTagInfo is required"),
    ("SetChargingProfile", {"connectorId": "1", "csChargingProfiles": '{"chargingProfileId": 1}'}, "stackLevel"),
])
def test_a_payload_the_kotodian_edge_refuses_is_not_queued(client, operations_user, kotodian_box, action, data, said):
    logged_in(client, operations_user)
    response = client.post(form_url(kotodian_box, action, send=True), data)
    assert response.status_code == 200 and said in response.content.decode(), action
    assert not Command.objects.exists()


def test_the_get_log_form_nests_the_log_parameters():
    form = GetLog({"logType": "SecurityLog", "requestId": "4", "remoteLocation": "ftp://h/up/",
                   "oldestTimestamp": "2026-12-01T08:00"})  # local time (TIME_ZONE, UTC+8)
    assert form.is_valid(), form.errors
    assert form.payload() == {"logType": "SecurityLog", "requestId": 4, "log": {
        "remoteLocation": "ftp://h/up/", "oldestTimestamp": "2026-12-01T00:00:00Z"}}


def test_field_engineers_may_read_a_kotodian_box_records(client, field_engineer, kotodian_box):
    logged_in(client, field_engineer)
    page = client.get(reverse("admin:chargers_chargebox_change", args=[kotodian_box.pk])).content.decode()
    offered = {action for action in FORMS if form_url(kotodian_box, action) in page}
    assert offered == {"GetConfiguration", "TriggerMessage", "GetDiagnostics", "GetLog", "GetTransactions",
                       "GetWarning", "Reset"}
