"""The inbound pipeline under the EVCHONG edge (inbound.pipeline, evchong_api.edge): forward requests of many boxes written in one transaction, each answered
as if it had been alone (a refused one costs no other its answer or its data), journaled with its
answer, and the boxes' signs of life written once."""

from __future__ import annotations

import base64

import orjson
import pytest
from django.db import OperationalError

from chargers.choices import Direction, Protocol, RegistrationStatus
from chargers.models import ChargeBox, JournalEntry
from evchong_api import handlers
from evchong_api.edge import EDGE
from inbound.edge import Message
from inbound.pipeline import batch_write as exchanges_write
from inbound.writers import Writers
from transactions.models import MeterValue

T0 = 1_763_712_900_000  # 2025-11-21T08:15:00Z in epoch milliseconds


def request(method: str, body: bytes, authorization: str = "") -> Message:
    return Message(EDGE, body, action=method, credentials=authorization, answers=True)


def ForwardCommitter(writers: int, batch: int) -> Writers:
    return Writers("test-writer", writers, batch)


def heartbeat(serial: str, **headers) -> Message:
    body = orjson.dumps({"chargeBoxSerialNumber": serial})
    return request("heartbeat", b"data=" + body, headers.get("authorization", ""))


def meter_values(serial: str, *, value: str = "1000") -> Message:
    body = orjson.dumps({"chargeBoxSerialNumber": serial, "connectorId": 1, "transactionId": -1, "values": [
        {"measurand": "Energy.Active.Import.Register", "unit": "Wh", "value": value, "timestamp": T0},
        {"measurand": "Power.Active.Import", "unit": "kW", "value": "7.2", "timestamp": T0},
    ]})
    return request("meterValues", body)


def status_of(exchange: Message) -> int:
    return exchange.reply[0]


@pytest.fixture
def boxes(transactional_db, make_box):
    return [make_box(f"RGC-{n}", connectors=2) for n in range(4)]


def test_a_batch_answers_stores_and_journals_every_request(boxes):
    exchanges = [meter_values(box.serial, value=str(1000 + n)) for n, box in enumerate(boxes)]
    exchanges += [heartbeat(box.serial) for box in boxes]
    exchanges_write(exchanges)
    assert [status_of(e) for e in exchanges] == [200] * 8
    assert all(e.reply[1]["transactionId"] == -1 for e in exchanges[:4])
    assert all("currentTime" in e.reply[1] for e in exchanges[4:])
    assert MeterValue.objects.count() == 8
    assert set(MeterValue.objects.filter(measurand="Energy.Active.Import.Register").values_list("box__serial", "value")) \
        == {(f"RGC-{n}", 1000.0 + n) for n in range(4)}
    # Each request and its answer in the box's journal, request first.
    first = JournalEntry.objects.filter(box=boxes[0]).order_by("id")
    assert [(e.action, e.direction) for e in first] == [
        ("meterValues", Direction.IN), ("meterValues", Direction.OUT),
        ("heartbeat", Direction.IN), ("heartbeat", Direction.OUT),
    ]
    assert orjson.loads(first[1].payload) == exchanges[0].reply[1]
    assert all(b.protocol == Protocol.EVCHONG and b.last_seen for b in ChargeBox.objects.filter(serial__startswith="RGC-"))


def test_refusals_in_a_batch_are_answered_each_and_cost_the_others_nothing(boxes, make_box):
    ChargeBox.objects.filter(pk=make_box("RGC-PENDING").pk).update(registration_status=RegistrationStatus.PENDING)
    make_box("RGC-LOCKED", password="a-long-box-password-1")
    wrong = "Basic " + base64.b64encode(b"RGC-LOCKED:not-the-password").decode()
    exchanges = [
        meter_values("RGC-0"),
        meter_values("NO-SUCH-BOX"),
        heartbeat("RGC-PENDING"),
        heartbeat("RGC-LOCKED", authorization=wrong),
        request("heartbeat", b"data={not json"),
        request("meterValues", orjson.dumps({"chargeBoxSerialNumber": "RGC-2", "connectorId": 1})),
        meter_values("RGC-3"),
    ]
    exchanges_write(exchanges)
    assert [status_of(e) for e in exchanges] == [200, 403, 403, 401, 400, 400, 200]
    assert set(MeterValue.objects.values_list("box__serial", flat=True)) == {"RGC-0", "RGC-3"}
    # What a known box sent with its own credentials is journaled with its answer and is a sign of
    # life, refused or not (the pending box's too); nothing is kept of a request that names no box
    # it may speak for, or that could not be read far enough to name one.
    assert set(JournalEntry.objects.values_list("box__serial", flat=True)) == {"RGC-0", "RGC-3", "RGC-PENDING"}
    assert set(ChargeBox.objects.exclude(last_seen=None).values_list("serial", flat=True)) \
        == {"RGC-0", "RGC-3", "RGC-PENDING"}
    pending = JournalEntry.objects.filter(box__serial="RGC-PENDING", direction=Direction.OUT).get()
    assert orjson.loads(pending.payload)["error"] == "charge box refused"


def test_the_right_password_in_a_batch_is_accepted(make_box):
    make_box("RGC-LOCKED", password="a-long-box-password-1")
    right = "Basic " + base64.b64encode(b"RGC-LOCKED:a-long-box-password-1").decode()
    exchange = heartbeat("RGC-LOCKED", authorization=right)
    exchanges_write([exchange, heartbeat("RGC-LOCKED")])
    assert exchange.failure is None


def test_a_batch_that_fails_as_a_whole_is_written_request_by_request(boxes, monkeypatch):
    """When a batch's statement fails (here: the shared INSERT of meter values, once), nothing of
    the batch was written: every request is done again alone and answered as it would have been."""
    real_store, failed = handlers.meter_reports_store, []

    def store_failing_once(reports, **kwargs):
        if len(reports) > 1 and not failed:
            failed.append(len(reports))
            raise OperationalError("the server closed the connection unexpectedly")
        return real_store(reports, **kwargs)

    monkeypatch.setattr(handlers, "meter_reports_store", store_failing_once)
    exchanges = [meter_values(box.serial) for box in boxes] + [meter_values("NO-SUCH-BOX")]
    ForwardCommitter(writers=1, batch=10).write(exchanges)
    assert failed == [4]
    assert [status_of(e) for e in exchanges] == [200, 200, 200, 200, 403]
    assert MeterValue.objects.count() == 8
    assert JournalEntry.objects.count() == 8  # once each, not once per attempt


def test_a_request_that_fails_alone_is_answered_500_and_costs_no_other_request(boxes, monkeypatch):
    def store_broken(reports, **kwargs):
        raise OperationalError("the server closed the connection unexpectedly")

    monkeypatch.setattr(handlers, "meter_reports_store", store_broken)
    exchanges = [meter_values("RGC-0"), heartbeat("RGC-1")]
    ForwardCommitter(writers=1, batch=10).write(exchanges)
    assert exchanges[0].reply == (500, {"error": "internal server error"}, {})
    assert status_of(exchanges[1]) == 200
    # Each journaled with the answer it got, the failure too.
    assert sorted(JournalEntry.objects.values_list("action", "direction")) == [
        ("heartbeat", "in"), ("heartbeat", "out"), ("meterValues", "in"), ("meterValues", "out")]
