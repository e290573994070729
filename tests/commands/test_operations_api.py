"""/api/v1: commands for any box, their history, and read access (DESIGN.md section 3)."""

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from chargers.models import ChargeBox
from transactions.services import Sample, meter_values_store, transaction_start


@pytest.fixture
def api(db):
    out = io.StringIO()
    call_command("apitoken", "ops", stdout=out)
    return Client(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")


@pytest.fixture(autouse=True)
def box(make_box):
    box = make_box("OP-1", connectors=2)
    ChargeBox.objects.filter(pk=box.pk).update(protocol="ocpp1.6", connected_node="node-a")
    return box


def send(api, body, serial="OP-1"):
    return api.post(f"/api/v1/boxes/{serial}/commands", body, content_type="application/json")


def test_needs_a_token(db):
    assert Client().get("/api/v1/boxes/OP-1").status_code == 401


def test_unknown_action_is_400(api):
    response = send(api, {"action": "Explode", "payload": {}})
    assert response.status_code == 400 and "action" in response.json()


def test_payload_failing_the_schema_is_400(api):
    response = send(api, {"action": "Reset", "payload": {"type": "Warm"}, "wait": False})
    assert response.status_code == 400
    assert "PropertyConstraintViolation" in response.json()["payload"][0]
    response = send(api, {"action": "ChangeConfiguration", "payload": {"key": "HeartbeatInterval"}, "wait": False})
    assert response.status_code == 400


def test_unknown_box_is_404(api):
    assert send(api, {"action": "ClearCache", "payload": {}, "wait": False}, serial="NOPE").status_code == 404


def test_queued_command_is_202_and_readable(api):
    response = send(api, {"action": "GetConfiguration", "payload": {"key": ["HeartbeatInterval"]}, "wait": False})
    assert response.status_code == 202
    command = response.json()
    assert command["box"] == "OP-1" and command["action"] == "GetConfiguration"
    assert command["payload"] == {"key": ["HeartbeatInterval"]}
    assert command["state"] in ("queued", "sent") and command["response"] is None and command["error"] is None
    assert command["answered"] is None and command["created"]
    again = api.get(f"/api/v1/commands/{command['id']}").json()
    assert again["id"] == command["id"]
    listing = api.get("/api/v1/boxes/OP-1/commands").json()
    assert [c["id"] for c in listing["results"]] == [command["id"]]


def test_refused_command_is_answered_with_its_reason(api):
    ChargeBox.objects.filter(serial="OP-1").update(connected_node="")
    command = send(api, {"action": "Reset", "payload": {"type": "Soft"}, "wait": True}).json()
    assert command["state"] == "rejected"
    assert command["error"] == {"code": "Refused", "description": "the charge box is not connected"}


def test_box_read_access(api):
    body = api.get("/api/v1/boxes/OP-1").json()
    assert body["serial"] == "OP-1" and body["online"] is False and body["firmwareVersion"] == ""
    assert [c["connectorId"] for c in body["connectors"]] == [0, 1, 2]
    assert set(body["connectors"][0]) == {"connectorId", "status", "errorCode", "vendorErrorCode"}
    assert api.get("/api/v1/boxes/NOPE").status_code == 404
    assert api.get("/api/v1/boxes/P%001").status_code == 404


def test_transaction_read_access_in_canonical_units(api, box):
    now = timezone.now()
    tx = transaction_start(box=box, connector_id=1, id_tag="CARD", meter_start_wh=1000, timestamp=now).transaction
    meter_values_store(box=box, connector_id=1, transaction_id=tx.id, samples=[
        Sample(timestamp=now, value="7.2", measurand="Power.Active.Import", unit="kW", phase="L1")])
    body = api.get(f"/api/v1/transactions/{tx.id}").json()
    assert (body["box"], body["connectorId"], body["idTag"], body["meterStartWh"]) == ("OP-1", 1, "CARD", 1000)
    assert body["meterStopWh"] is None and body["energyWh"] is None and body["stoppedAt"] is None
    assert body["meterValues"] == [{"timestamp": body["meterValues"][0]["timestamp"], "measurand": "Power.Active.Import",
                                    "value": 7200.0, "unit": "W", "phase": "L1", "location": "Outlet",
                                    "context": "Sample.Periodic"}]


def test_openapi_schema_and_docs(api):
    schema = api.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/boxes/{serial}/commands" in text and "/evchong-api/reverse/v1/RemoteStartTransaction" in text
    assert api.get("/api/docs/").status_code == 200


def test_a_database_that_cannot_be_reached_is_503_with_retry_after(api, monkeypatch):
    from django.db import OperationalError

    from chargers import api as chargers_api

    def unreachable(serial):
        raise OperationalError("connection to server failed: Connection refused")

    monkeypatch.setattr(chargers_api, "box_by_serial", unreachable)  # box_or_404's lookup
    response = send(api, {"action": "ClearCache", "payload": {}, "wait": False})
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.json()["error"] == "service unavailable"


def test_a_value_postgresql_refuses_is_not_called_an_outage(api):
    from django.db import DataError

    from core.api_errors import exception_handler

    assert exception_handler(DataError("value too long"), {}) is None  # DRF's own handling: a 500
