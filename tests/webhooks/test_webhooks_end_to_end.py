"""The outside check of issue 24: a receiver that verifies signatures sees every event of a
session within 2 s, and gets a retry after it answered 500. Real processes throughout: a daphne
serving the box and the API, a real OCPP box on a WebSocket, a real Celery worker on Redis, a real
HTTP receiver."""

import io
import json
import time
import urllib.request

import pytest
from django.core.management import call_command

from simbox import SimBox
from webhooks.models import Delivery

WITHIN = 2.0


@pytest.fixture(scope="module")
def server(start_daphne):
    # Subscriptions read afresh for every event: the endpoint is registered just before the session.
    return start_daphne(WEBHOOK_SUBSCRIPTIONS_TTL="0", WEBHOOK_INSECURE_HOSTS="127.0.0.1")


@pytest.fixture
def token(transactional_db, make_box, make_tag):
    make_box("WH-1", connectors=2)
    make_tag("DRIVER")
    call_command("addtariff", "FLAT", "--period", "00:00-00:00=1.2+0.3", "--default", stdout=io.StringIO())
    out = io.StringIO()
    call_command("apitoken", "integrator", stdout=out)
    return out.getvalue().strip()


def api(server, token, method, path, payload=None):
    request = urllib.request.Request(f"{server}{path}", method=method, data=json.dumps(payload).encode()
                                     if payload is not None else None, headers={
        "Content-Type": "application/json", "Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read() or b"null")


def test_every_event_of_a_session_within_two_seconds_and_a_retry_after_500(
        server, token, receiver, celery_worker, settings):
    status, endpoint = api(server, token, "POST", "/api/v1/webhooks", {"url": receiver.url})
    assert status == 201 and endpoint["events"] == [] and len(endpoint["secret"]) >= 32
    receiver.secret = endpoint["secret"]
    receiver.refuse_once = {"session.started"}

    sent = {}
    with SimBox(server, "WH-1", {"GetConfiguration": {"configurationKey": []}}) as box:
        sent["box.online"] = time.monotonic()
        receiver.wait_for("box.online")
        sent["idtag.unknown"] = time.monotonic()
        assert box.call("Authorize", {"idTag": "STRANGER"})["idTagInfo"]["status"] == "Invalid"
        sent["session.started"] = time.monotonic()
        started = box.call("StartTransaction", {"connectorId": 1, "idTag": "DRIVER", "meterStart": 1000,
                                                "timestamp": "2026-12-06T08:00:00Z"})
        tx = started["transactionId"]
        sent["fault.raised"] = sent["notify.user"] = sent["notify.operations"] = time.monotonic()
        box.call("StatusNotification", {"connectorId": 1, "status": "Faulted", "errorCode": "GroundFailure",
                                        "timestamp": "2026-12-06T08:10:00Z"})
        sent["fault.cleared"] = time.monotonic()
        box.call("StatusNotification", {"connectorId": 1, "status": "Charging", "errorCode": "NoError",
                                        "timestamp": "2026-12-06T08:11:00Z"})
        sent["session.stopped"] = time.monotonic()
        box.call("StopTransaction", {"transactionId": tx, "meterStop": 6000, "timestamp": "2026-12-06T09:00:00Z",
                                     "reason": "EVDisconnected"})
        sent["firmware.status"] = time.monotonic()
        box.call("FirmwareStatusNotification", {"status": "Downloading"})
        sent["command.finished"] = time.monotonic()
        status, command = api(server, token, "POST", "/api/v1/boxes/WH-1/commands",
                              {"action": "GetConfiguration", "payload": {}, "wait": True})
        assert command["state"] == "accepted"
        sent["box.offline"] = time.monotonic()
    for event_type, at in sent.items():
        arrived = receiver.wait_for(event_type, timeout=WITHIN + 1)[0].at
        assert arrived - at < WITHIN, (event_type, arrived - at)
    assert receiver.bad_signatures == 0

    events = {event["type"]: event for event in receiver.events()}
    assert set(events) == set(sent)
    assert events["idtag.unknown"]["data"] == {"box": "WH-1", "idTag": "STRANGER"}
    assert events["session.started"]["data"]["id"] == tx and events["session.started"]["data"]["idTag"] == "DRIVER"
    stopped = events["session.stopped"]["data"]
    assert (stopped["id"], stopped["energyWh"], stopped["stopReason"]) == (tx, 5000, "EVDisconnected")
    assert stopped["cost"]["total"] == "7.50" and stopped["cost"]["currency"] == "CNY"
    raised = events["fault.raised"]["data"]
    assert (raised["errorCode"], raised["transactionId"], raised["open"]) == ("GroundFailure", tx, True)
    assert events["notify.user"]["data"]["id"] == events["notify.operations"]["data"]["id"] == raised["id"]
    assert events["fault.cleared"]["data"] == {"box": "WH-1", "connectorId": 1, "alarmIds": [raised["id"]]}
    assert events["firmware.status"]["data"] == {"box": "WH-1", "status": "Downloading"}
    assert (events["command.finished"]["data"]["id"], events["command.finished"]["data"]["state"]) == (
        command["id"], "accepted")

    # The 500 was retried: same event id, same body, a second attempt in the log.
    refused = [r.event for r in receiver.got if r.answered == 500]
    assert [e["type"] for e in refused] == ["session.started"] and refused[0] == events["session.started"]
    # The worker records the 200 just after the receiver has answered it: give it that moment.
    deadline = time.monotonic() + 10
    delivery = Delivery.objects.get(event_id=refused[0]["id"])
    while delivery.state != "delivered" and time.monotonic() < deadline:
        time.sleep(0.1)
        delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("delivered", 2, 200)
    assert delivery.latency_ms is not None
    _, log = api(server, token, "GET", f"/api/v1/webhooks/{endpoint['id']}/deliveries?eventType=session.started")
    assert [(d["state"], d["attempts"]) for d in log["results"]] == [("delivered", 2)]
