"""The reverse API's own behaviour (EVCHONG 3): tokens, input validation, refusals that need no
box. Round trips with a connected OCPP box are in tests/commands/test_delivery.py."""

import pytest
from django.test import Client

from chargers.models import ChargeBox
from commands.models import Command

URL = "/evchong-api/reverse/v1/"


@pytest.fixture
def api(backend_token):
    client = Client(HTTP_AUTHORIZATION=f"Token {backend_token}")
    client.call = lambda method, body: client.post(URL + method, body, content_type="application/json")
    return client


@pytest.fixture(autouse=True)
def box(make_box):
    return make_box("RV-1", connectors=2)


@pytest.mark.parametrize("method", ["RemoteStartTransaction", "RemoteStopTransaction", "UpdateFirmware", "Reset"])
def test_missing_or_wrong_token_is_refused(db, method, backend_token):
    response = Client().post(URL + method, {}, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["status"] == "Rejected"
    response = Client(HTTP_AUTHORIZATION="Token nope").post(URL + method, {}, content_type="application/json")
    assert response.status_code == 401


def test_token_without_the_permission_is_forbidden(db):
    from django.contrib.auth import get_user_model
    from staff import token_for

    user = get_user_model().objects.create(username="nobody")
    client = Client(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    response = client.post(URL + "Reset", {"chargeBoxSerialNumber": "RV-1", "type": "Soft"},
                           content_type="application/json")
    assert response.status_code == 403


@pytest.mark.parametrize("method, body, field", [
    ("RemoteStartTransaction", {"chargeBoxSerialNumber": "RV-1", "idTag": "CARD"}, "connectorId"),
    ("RemoteStartTransaction", {"chargeBoxSerialNumber": "RV-1", "connectorId": 1, "idTag": "C" * 21}, "idTag"),
    ("RemoteStopTransaction", {"chargeBoxSerialNumber": "RV-1", "transactionId": "x"}, "transactionId"),
    ("UpdateFirmware", {"chargeBoxSerialNumber": "RV-1", "location": "ftp://fw.example.com/a.bin",
                        "retrieveDate": "tomorrow"}, "retrieveDate"),
    ("UpdateFirmware", {"chargeBoxSerialNumber": "RV-1", "retrieveDate": "2026-12-01 02:00:00"}, "location"),
    ("Reset", {"chargeBoxSerialNumber": "RV-1", "type": "Warm"}, "type"),
    ("Reset", {"type": "Hard"}, "chargeBoxSerialNumber"),
])
def test_bad_input_is_400_naming_the_field(api, method, body, field):
    response = api.call(method, body)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "Rejected" and body["field"] == field and body["message"].startswith(field)


def test_unknown_box_is_rejected_with_a_message(api):
    body = api.call("Reset", {"chargeBoxSerialNumber": "GHOST", "type": "Hard"}).json()
    assert body == {"status": "Rejected", "message": "unknown charge box GHOST"}


def test_box_that_is_not_connected_is_rejected_at_once(api):
    ChargeBox.objects.filter(serial="RV-1").update(protocol="ocpp1.6")
    body = api.call("RemoteStartTransaction", {"chargeBoxSerialNumber": "RV-1", "connectorId": 1,
                                               "idTag": "CARD"}).json()
    assert body == {"status": "Rejected", "message": "the charge box is not connected"}
    assert Command.objects.get().state == "rejected"


def test_rest_only_box_is_rejected_with_that_reason(api):
    ChargeBox.objects.filter(serial="RV-1").update(protocol="evchong")
    body = api.call("Reset", {"chargeBoxSerialNumber": {"chargeBoxSerialNumber": "RV-1"}, "type": "Soft"}).json()
    assert body["status"] == "Rejected" and "no channel for commands" in body["message"]


def test_remote_stop_of_unknown_session(api):
    ChargeBox.objects.filter(serial="RV-1").update(protocol="ocpp1.6", connected_node="n")
    body = api.call("RemoteStopTransaction", {"chargeBoxSerialNumber": "RV-1", "transactionId": 4242}).json()
    assert body == {"status": "Rejected", "message": "unknown transaction 4242 on RV-1"}
