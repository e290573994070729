"""The reverse API drives Kotodian boxes (DESIGN 3): daphne issues the command, a real Celery worker
publishes the request APDU on the box's command downlink, and the box's Conf, through the bridge,
settles it: Accepted when its status is 0."""

import io
import json
import urllib.error
import urllib.request

import pytest
from django.core.management import call_command

from chargers.models import JournalEntry
from commands.models import Command
from kotodian.proto import charger_pb2 as pb


@pytest.fixture
def token(transactional_db):
    out = io.StringIO()
    call_command("apitoken", "backend", stdout=out)
    return out.getvalue().strip()


def reverse(server, method, body, token):
    request = urllib.request.Request(f"{server}/evchong-api/reverse/v1/{method}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json",
                                                             "Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def booted_box(kotodian_box, make_box, serial, answers):
    make_box(serial, connectors=2)
    box = kotodian_box(serial, answers=answers)
    box.register()
    assert box.boot().message.status == 0
    return box


def test_remote_start_reaches_the_box_and_is_accepted(fast_server, token, celery_worker, kotodian_box, make_box,
                                                      make_tag, serial):
    make_tag("CARD-R")
    box = booted_box(kotodian_box, make_box, serial,
                     {pb.ID_RemoteStartTransactionReq: pb.RemoteStartTransactionConf(status=0)})
    code, body = reverse(fast_server, "RemoteStartTransaction",
                         {"chargeBoxSerialNumber": serial, "connectorId": 1, "idTag": "CARD-R"}, token)
    assert (code, body["status"]) == (200, "Accepted"), body
    request = box.requests.get(timeout=5)
    assert request.message_id == pb.ID_RemoteStartTransactionReq
    assert (request.message.connectorId, request.message.IdData.id) == ("1", "CARD-R")
    command = Command.objects.get(box__serial=serial)
    assert command.state == "accepted" and command.response["status"] == "Accepted"
    # Our request and the box's Conf, journaled together.
    actions = list(JournalEntry.objects.filter(box__serial=serial, action="RemoteStartTransaction")
                   .order_by("id").values_list("direction", flat=True))
    assert actions == ["out", "in"]


def test_a_conf_with_a_non_zero_status_is_rejected(fast_server, token, celery_worker, kotodian_box, make_box,
                                                   serial):
    box = booted_box(kotodian_box, make_box, serial, {pb.ID_RemoteControlReq: pb.RemoteControlConf(status=3)})
    code, body = reverse(fast_server, "Reset", {"chargeBoxSerialNumber": serial, "type": "Soft"}, token)
    assert body["status"] == "Rejected", body
    request = box.requests.get(timeout=5)
    assert (request.message.function, request.message.parameter) == ("Reset", "1")
    assert Command.objects.get(box__serial=serial).state == "rejected"


def test_a_box_that_does_not_answer_times_out(fast_server, token, celery_worker, kotodian_box, make_box, serial,
                                              wait_for):
    box = booted_box(kotodian_box, make_box, serial, {})
    code, body = reverse(fast_server, "Reset", {"chargeBoxSerialNumber": serial, "type": "Hard"}, token)
    request = box.requests.get(timeout=5)
    assert (request.message_id, request.message.parameter) == (pb.ID_RemoteControlReq, "0")
    # Settled as timed out at its deadline (OCPP_CALL_TIMEOUT, 3 s here), the request journaled alone.
    wait_for(lambda: Command.objects.get(box__serial=serial).state == "timed_out", timeout=15)
    wait_for(lambda: JournalEntry.objects.filter(box__serial=serial, action="Reset", direction="out").exists())


def test_remote_stop_of_a_kotodian_session(fast_server, token, celery_worker, kotodian_box, make_box, make_tag,
                                           serial):
    make_tag("CARD-S")
    box = booted_box(kotodian_box, make_box, serial,
                     {pb.ID_RemoteStopTransactionReq: pb.RemoteStopTransactionConf(status=0)})
    started = box.call("C", pb.ID_StartTransactionReq, pb.StartTransactionReq(
        connectorId="1", IdData=pb.IdToken(id="CARD-S"), meterStart=5, timestamp=1_780_000_000))
    code, body = reverse(fast_server, "RemoteStopTransaction", {"chargeBoxSerialNumber": serial,
                                                                "transactionId": int(started.message.transactionId)},
                         token)
    assert body["status"] == "Accepted", body
    request = box.requests.get(timeout=5)
    assert request.message.transactionId == started.message.transactionId


def test_a_box_never_booted_takes_no_command(fast_server, token, kotodian_box, make_box, serial):
    make_box(serial, connectors=2)
    code, body = reverse(fast_server, "Reset", {"chargeBoxSerialNumber": serial, "type": "Hard"}, token)
    assert body["status"] == "Rejected" and "not connected" in body["message"]
