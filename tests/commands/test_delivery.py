"""The whole command path with real processes: reverse API and operations API on daphne, Celery
delivery through a real worker and Redis, a real OCPP box on a WebSocket, PostgreSQL rows."""

import io
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command

from commands.models import Command
from simbox import SimBox



@pytest.fixture
def server(fast_server):
    return fast_server


@pytest.fixture
def token(transactional_db):
    out = io.StringIO()
    call_command("apitoken", "backend", stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def boxes(transactional_db, make_box, make_tag):
    for serial in ("DL-1", "DL-2"):
        make_box(serial, connectors=2)
    make_tag("CARD")


def post(url, body, token, timeout=30):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def reverse(server, method, body, token):
    return post(f"{server}/evchong-api/reverse/v1/{method}", body, token)


ACCEPTING = {"Reset": {"status": "Accepted"}, "RemoteStartTransaction": {"status": "Accepted"},
             "RemoteStopTransaction": {"status": "Accepted"}, "UpdateFirmware": {},
             "GetConfiguration": {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False,
                                                        "value": "60"}]}}


def test_reset_round_trip(server, boxes, token, celery_worker):
    with SimBox(server, "DL-1", ACCEPTING) as box:
        status, answer = reverse(server, "Reset", {"chargeBoxSerialNumber": "DL-1", "type": "Hard"}, token)
        assert (status, answer) == (200, {"status": "Accepted"})
        assert box.calls == [("Reset", {"type": "Hard"})]
    command = Command.objects.get()
    assert (command.state, command.response, command.source) == ("accepted", {"status": "Accepted"}, "reverse-api")
    assert command.sent_at and command.answered_at and command.requested_by.username == "backend"


def test_box_refusal_is_rejected_with_its_status(server, boxes, token, celery_worker):
    with SimBox(server, "DL-1", {"Reset": {"status": "Rejected"}}):
        _, answer = reverse(server, "Reset", {"chargeBoxSerialNumber": "DL-1", "type": "Soft"}, token)
    assert answer == {"status": "Rejected", "message": "the charge box refused the command (Rejected)"}


def test_update_firmware_is_accepted_once_answered(server, boxes, token, celery_worker):
    with SimBox(server, "DL-1", ACCEPTING) as box:
        _, answer = reverse(server, "UpdateFirmware", {
            "chargeBoxSerialNumber": "DL-1", "location": "ftp://fw.example.com/keli-2.1.bin",
            "retrieveDate": "2026-12-01 02:00:00", "retries": 3, "retryInterval": 60}, token)
        assert answer == {"status": "Accepted"}
        # yyyy-MM-dd HH:mm:ss is in TIME_ZONE (Asia/Shanghai, UTC+8).
        assert box.calls == [("UpdateFirmware", {"location": "ftp://fw.example.com/keli-2.1.bin",
                                                 "retrieveDate": "2026-11-30T18:00:00Z", "retries": 3,
                                                 "retryInterval": 60})]


def test_remote_start_and_stop(server, boxes, token, celery_worker):
    with SimBox(server, "DL-1", ACCEPTING) as box:
        _, answer = reverse(server, "RemoteStartTransaction",
                            {"chargeBoxSerialNumber": "DL-1", "connectorId": 1, "idTag": "CARD"}, token)
        assert answer == {"status": "Accepted"}
        assert box.calls == [("RemoteStartTransaction", {"connectorId": 1, "idTag": "CARD"})]
        started = box.call("StartTransaction", {"connectorId": 1, "idTag": "CARD", "meterStart": 0,
                                                "timestamp": "2026-11-21T10:00:00Z"})
        _, answer = reverse(server, "RemoteStopTransaction",
                            {"chargeBoxSerialNumber": "DL-1", "transactionId": started["transactionId"]}, token)
        assert answer == {"status": "Accepted"}
        assert box.calls[-1] == ("RemoteStopTransaction", {"transactionId": started["transactionId"]})


def test_thirty_concurrent_remote_starts_one_accepted_one_call(server, boxes, token, celery_worker):
    with SimBox(server, "DL-1", ACCEPTING) as box:
        barrier = threading.Barrier(30)

        def one(n):
            barrier.wait()
            return reverse(server, "RemoteStartTransaction",
                           {"chargeBoxSerialNumber": "DL-1", "connectorId": 1, "idTag": "CARD"}, token)[1]

        with ThreadPoolExecutor(30) as pool:
            answers = list(pool.map(one, range(30)))
        assert [a["status"] for a in answers].count("Accepted") == 1
        assert all(a["message"] for a in answers if a["status"] == "Rejected")
        time.sleep(0.5)
        assert [action for action, _ in box.calls] == ["RemoteStartTransaction"]


def test_silent_box_is_rejected_in_bounded_time(server, boxes, token, celery_worker):
    with SimBox(server, "DL-1", answers={}):
        began = time.monotonic()
        _, answer = reverse(server, "Reset", {"chargeBoxSerialNumber": "DL-1", "type": "Soft"}, token)
        elapsed = time.monotonic() - began
    assert answer == {"status": "Rejected", "message": "the charge box did not answer within 3 s"}
    assert 2.5 < elapsed < 5
    assert Command.objects.get().state == "timed_out"


def test_box_that_disconnects_mid_call_fails_it_at_once(server, boxes, token, celery_worker):
    with SimBox(server, "DL-1", answers={}) as box:
        result = {}
        caller = threading.Thread(target=lambda: result.update(answer=reverse(
            server, "Reset", {"chargeBoxSerialNumber": "DL-1", "type": "Soft"}, token)[1]))
        began = time.monotonic()
        caller.start()
        box.wait_for_calls(1)
        box.close()
        caller.join(10)
    assert time.monotonic() - began < 2.5
    assert result["answer"]["status"] == "Rejected"
    assert Command.objects.get().state == "failed"


def test_operations_api_waits_for_the_answer(server, boxes, token, celery_worker):
    with SimBox(server, "DL-2", ACCEPTING):
        status, command = post(f"{server}/api/v1/boxes/DL-2/commands",
                               {"action": "GetConfiguration", "payload": {"key": ["HeartbeatInterval"]}}, token)
    assert status == 200
    assert command["state"] == "accepted"
    assert command["response"]["configurationKey"][0]["value"] == "60"


def test_command_through_a_second_server_reaches_a_box_on_the_first(server, start_fast_daphne, boxes, token,
                                                                     celery_worker):
    other = start_fast_daphne()
    with SimBox(server, "DL-2", ACCEPTING) as box:
        _, answer = reverse(other, "Reset", {"chargeBoxSerialNumber": "DL-2", "type": "Soft"}, token)
        assert answer == {"status": "Accepted"}
        assert box.calls == [("Reset", {"type": "Soft"})]
