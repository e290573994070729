"""The roles hold in the command APIs as in the pages: a field engineer may send diagnostic
commands only (commands.roles.command_allowed)."""

import pytest
from django.test import Client

from chargers.models import ChargeBox


@pytest.fixture(autouse=True)
def box(make_box):
    box = make_box("RL-1", connectors=1)
    ChargeBox.objects.filter(pk=box.pk).update(protocol="ocpp1.6", connected_node="")
    return box


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def send(client, action, payload):
    return client.post("/api/v1/boxes/RL-1/commands", {"action": action, "payload": payload, "wait": False},
                       content_type="application/json")


@pytest.mark.parametrize("action, payload", [
    ("RemoteStartTransaction", {"connectorId": 1, "idTag": "CARD"}),
    ("Reset", {"type": "Hard"}),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "30"}),
    ("ClearCache", {}),
])
def test_field_engineer_may_not_send_operational_commands(field_engineer, action, payload):
    response = send(logged_in(field_engineer), action, payload)
    assert response.status_code == 403
    assert action in response.json()["detail"]


@pytest.mark.parametrize("action, payload", [
    ("GetConfiguration", {}), ("TriggerMessage", {"requestedMessage": "StatusNotification"}),
    ("UnlockConnector", {"connectorId": 1}), ("Reset", {"type": "Soft"}),
    ("GetDiagnostics", {"location": "ftp://logs.example.com/"}),
])
def test_field_engineer_may_send_diagnostics(field_engineer, action, payload):
    assert send(logged_in(field_engineer), action, payload).status_code == 202


def test_operations_may_send_anything(operations_user):
    assert send(logged_in(operations_user), "Reset", {"type": "Hard"}).status_code == 202


def test_field_engineer_token_may_not_remote_start_through_the_reverse_api(field_engineer):
    from staff import token_for

    client = Client(HTTP_AUTHORIZATION=f"Token {token_for(field_engineer)}")
    response = client.post(
        "/evchong-api/reverse/v1/RemoteStartTransaction",
        {"chargeBoxSerialNumber": "RL-1", "connectorId": 1, "idTag": "CARD"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["status"] == "Rejected"


def test_user_without_a_role_is_refused(db):
    from django.contrib.auth.models import User

    nobody = User.objects.create_user("nobody", password="x")
    assert send(logged_in(nobody), "GetConfiguration", {}).status_code == 403
    assert logged_in(nobody).get("/api/v1/boxes/RL-1").status_code == 403
