"""A remote start that answers with its session: the operations API's RemoteStartTransaction with
waitForTransaction, on a real daphne, delivered by a real Celery worker to a real OCPP box on a
WebSocket, answered once the box's StartTransaction is committed (woken through Redis), or saying
that the box accepted but started nothing. And the TxProfile it carried, kept with that session."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.utils import timezone

from commands.models import Command
from simbox import SimBox
from smartcharging.models import ChargingProfile
from transactions.models import Transaction

ACCEPTED = {"status": "Accepted"}
# The short timeouts of tests/conftest.py's fast daphne, and a short wait for the session.
FAST_TIMEOUTS = {"OCPP_CALL_TIMEOUT": "3", "REVERSE_API_TIMEOUT": "5"}
SESSION_WAIT = 2
TX_PROFILE = {
    "chargingProfileId": 7, "stackLevel": 0, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Absolute",
    "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]},
}


@pytest.fixture(scope="module")
def session_daphne(start_daphne):
    return start_daphne(**FAST_TIMEOUTS, REMOTE_START_SESSION_WAIT=str(SESSION_WAIT))


@pytest.fixture
def server(session_daphne, settings):
    for name, value in FAST_TIMEOUTS.items():
        setattr(settings, name, float(value))
    return session_daphne


@pytest.fixture
def token(transactional_db, make_box, make_tag):
    make_box("RSW-1", connectors=2)
    make_tag("CARD")
    out = io.StringIO()
    call_command("apitoken", "backend", stdout=out)
    return out.getvalue().strip()


def post(server, token, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{server}/api/v1/boxes/RSW-1/commands", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def remote_start(server, token, payload: dict) -> tuple[int, dict]:
    return post(server, token, {"action": "RemoteStartTransaction", "payload": payload, "waitForTransaction": True})


def start_when_asked(box: SimBox, connector_id: int = 1, tag: str = "CARD", after: float = 0.3) -> dict:
    """Act as a box that starts charging shortly after accepting the remote start."""
    box.wait_for_calls(1)
    time.sleep(after)
    return box.call("StartTransaction", {"connectorId": connector_id, "idTag": tag, "meterStart": 1000,
                                         "timestamp": timezone.now().isoformat()})


def test_the_answer_carries_the_transaction_the_box_started(server, token, celery_worker):
    with SimBox(server, "RSW-1", {"RemoteStartTransaction": ACCEPTED}) as box, ThreadPoolExecutor(1) as pool:
        started = pool.submit(start_when_asked, box)
        status, command = remote_start(server, token, {"connectorId": 1, "idTag": "CARD"})
        conf = started.result(10)
    assert (status, command["state"], command["error"]) == (200, "accepted", None)
    assert command["transactionId"] == conf["transactionId"]
    assert Transaction.objects.get(pk=conf["transactionId"]).id_tag == "CARD"
    assert Command.objects.get(pk=command["id"]).transaction_id == conf["transactionId"]
    request = urllib.request.Request(f"{server}/api/v1/commands/{command['id']}",
                                     headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["transactionId"] == conf["transactionId"]


def test_a_command_that_names_no_session_keeps_the_contract_shape(server, token):
    status, command = post(server, token, {"action": "RemoteStartTransaction", "payload": {"idTag": "CARD"}})
    assert status == 200 and command["state"] == "rejected"  # the box is not connected
    assert set(command) == {"id", "box", "action", "payload", "state", "response", "error", "created", "answered"}


def test_a_box_left_to_pick_the_connector_is_linked_by_its_id_tag(server, token, celery_worker):
    with SimBox(server, "RSW-1", {"RemoteStartTransaction": ACCEPTED}) as box, ThreadPoolExecutor(1) as pool:
        started = pool.submit(start_when_asked, box, 2, "card")  # idTag is a CiString: case does not matter
        status, command = remote_start(server, token, {"idTag": "CARD"})
        conf = started.result(10)
    assert (status, command["state"], command["transactionId"]) == (200, "accepted", conf["transactionId"])


def test_a_box_that_accepts_but_never_starts_is_said_so(server, token, celery_worker):
    with SimBox(server, "RSW-1", {"RemoteStartTransaction": ACCEPTED}):
        began = time.monotonic()
        status, command = remote_start(server, token, {"connectorId": 1, "idTag": "CARD"})
        waited = time.monotonic() - began
    assert (status, command["state"], command["transactionId"]) == (200, "accepted", None)
    assert command["error"]["code"] == "NoTransactionStarted"
    assert "accepted the remote start but started no transaction within 2 s" in command["error"]["description"]
    assert SESSION_WAIT <= waited < SESSION_WAIT + 5
    # Not written on the row: the answer said what the wait saw; the command itself was accepted.
    assert Command.objects.get(pk=command["id"]).error_code == ""


def test_a_start_with_another_card_is_not_the_remote_starts_session(server, token, celery_worker, make_tag):
    make_tag("OTHER")
    with SimBox(server, "RSW-1", {"RemoteStartTransaction": ACCEPTED}) as box, ThreadPoolExecutor(1) as pool:
        started = pool.submit(start_when_asked, box, 1, "OTHER")
        _, command = remote_start(server, token, {"connectorId": 1, "idTag": "CARD"})
        started.result(10)
    assert (command["transactionId"], command["error"]["code"]) == (None, "NoTransactionStarted")
    # The connector's claim ended all the same: it is in use now.
    assert Command.objects.get(pk=command["id"]).claim_until is None


def test_a_refused_start_is_answered_without_waiting_for_a_session(server, token, celery_worker):
    with SimBox(server, "RSW-1", {"RemoteStartTransaction": {"status": "Rejected"}}):
        began = time.monotonic()
        status, command = remote_start(server, token, {"connectorId": 1, "idTag": "CARD"})
    assert (status, command["state"], command["transactionId"], command["error"]) == (200, "rejected", None, None)
    assert time.monotonic() - began < SESSION_WAIT


def test_a_box_that_disconnects_before_answering_fails_the_command(server, token, celery_worker):
    box = SimBox(server, "RSW-1", {})  # never answers
    with box, ThreadPoolExecutor(1) as pool:
        answer = pool.submit(remote_start, server, token, {"connectorId": 1, "idTag": "CARD"})
        box.wait_for_calls(1)
        box.close()
        status, command = answer.result(20)
    assert (status, command["state"], command["error"]["code"]) == (200, "failed", "Offline")
    assert command["transactionId"] is None


def test_the_tx_profile_of_an_accepted_remote_start_is_kept_with_its_session(server, token, celery_worker):
    with SimBox(server, "RSW-1", {"RemoteStartTransaction": ACCEPTED}) as box, ThreadPoolExecutor(1) as pool:
        started = pool.submit(start_when_asked, box)
        _, command = remote_start(server, token, {"connectorId": 1, "idTag": "CARD", "chargingProfile": TX_PROFILE})
        conf = started.result(10)
        profile = ChargingProfile.objects.get(box__serial="RSW-1")
        assert (profile.charging_profile_id, profile.purpose, profile.connector_id, profile.transaction_id) == (
            7, "TxProfile", 1, conf["transactionId"])
        box.call("StopTransaction", {"transactionId": conf["transactionId"], "meterStop": 2000,
                                     "timestamp": timezone.now().isoformat()})
    assert command["transactionId"] == conf["transactionId"]
    assert not ChargingProfile.objects.filter(box__serial="RSW-1").exists()  # it ended with its session


@pytest.mark.parametrize("body, message", [
    ({"action": "Reset", "payload": {"type": "Soft"}, "waitForTransaction": True}, "only for RemoteStartTransaction"),
    ({"action": "RemoteStartTransaction", "payload": {"idTag": "CARD"}, "wait": False, "waitForTransaction": True},
     "needs wait: true"),
    ({"action": "RemoteStartTransaction", "payload": {"idTag": "CARD"}, "waitForTransaction": "maybe"},
     "Must be a valid boolean."),
])
def test_bad_wait_for_transaction_is_a_400_naming_the_field(server, token, body, message):
    status, answer = post(server, token, body)
    assert status == 400
    assert message in json.dumps(answer)
    assert "waitForTransaction" in json.dumps(answer)
    assert not Command.objects.exists()


def test_the_field_is_in_the_openapi_schema(server, token):
    request = urllib.request.Request(f"{server}/api/schema/?format=json", headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        schema = json.loads(response.read())
    components = schema["components"]["schemas"]
    # With COMPONENT_SPLIT_REQUEST the request's component is CommandInRequest.
    request_component = components.get("CommandInRequest") or components["CommandIn"]
    assert "waitForTransaction" in request_component["properties"]
    assert "transactionId" in components["CommandOut"]["properties"]
