"""evchong_api.committer: forward requests of many boxes written in one transaction, each answered
as if it had been alone (a refused one costs no other its answer or its data), journaled with its
answer, and the boxes' signs of life written once."""

from __future__ import annotations

import base64

import orjson
import pytest
from django.db import OperationalError

from chargers.choices import Direction, Protocol, RegistrationStatus
from chargers.models import ChargeBox, JournalEntry
from evchong_api import views
from evchong_api.committer import Exchange, ForwardCommitter, exchanges_write
from evchong_api.errors import error_answer
from transactions.models import MeterValue

T0 = 1_763_712_900_000  # 2025-11-21T08:15:00Z in epoch milliseconds


def heartbeat(serial: str, **headers) -> Exchange:
    body = orjson.dumps({"chargeBoxSerialNumber": serial})
    return Exchange(views.HeartbeatView(), b"data=" + body, headers.get("authorization", ""))


def meter_values(serial: str, *, value: str = "1000") -> Exchange:
    body = orjson.dumps({"chargeBoxSerialNumber": serial, "connectorId": 1, "transactionId": -1, "values": [
        {"measurand": "Energy.Active.Import.Register", "unit": "Wh", "value": value, "timestamp": T0},
        {"measurand": "Power.Active.Import", "unit": "kW", "value": "7.2", "timestamp": T0},
    ]})
    return Exchange(views.MeterValuesView(), body)


def status_of(exchange: Exchange) -> int:
    return 200 if exchange.failure is None else error_answer(exchange.failure)[0]


@pytest.fixture
def boxes(transactional_db, make_box):
    return [make_box(f"RGC-{n}", connectors=2) for n in range(4)]


def test_a_batch_answers_stores_and_journals_every_request(boxes):
    exchanges = [meter_values(box.serial, value=str(1000 + n)) for n, box in enumerate(boxes)]
    exchanges += [heartbeat(box.serial) for box in boxes]
    exchanges_write(exchanges)
    assert [status_of(e) for e in exchanges] == [200] * 8
    assert all(e.answer["transactionId"] == -1 for e in exchanges[:4])
    assert all("currentTime" in e.answer for e in exchanges[4:])
    assert MeterValue.objects.count() == 8
    assert set(MeterValue.objects.filter(measurand="Energy.Active.Import.Register").values_list("box__serial", "value")) \
        == {(f"RGC-{n}", 1000.0 + n) for n in range(4)}
    # Each request and its answer in the box's journal, request first.
    first = JournalEntry.objects.filter(box=boxes[0]).order_by("id")
    assert [(e.action, e.direction) for e in first] == [
        ("meterValues", Direction.IN), ("meterValues", Direction.OUT),
        ("heartbeat", Direction.IN), ("heartbeat", Direction.OUT),
    ]
    assert orjson.loads(first[1].payload) == exchanges[0].answer
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
        Exchange(views.HeartbeatView(), b"data={not json"),
        Exchange(views.MeterValuesView(), orjson.dumps({"chargeBoxSerialNumber": "RGC-2", "connectorId": 1})),
        meter_values("RGC-3"),
    ]
    exchanges_write(exchanges)
    assert [status_of(e) for e in exchanges] == [200, 403, 403, 401, 400, 400, 200]
    assert set(MeterValue.objects.values_list("box__serial", flat=True)) == {"RGC-0", "RGC-3"}
    # Only what was answered 200 is journaled, and only those boxes gave a sign of life.
    assert set(JournalEntry.objects.values_list("box__serial", flat=True)) == {"RGC-0", "RGC-3"}
    assert set(ChargeBox.objects.exclude(last_seen=None).values_list("serial", flat=True)) == {"RGC-0", "RGC-3"}


def test_the_right_password_in_a_batch_is_accepted(make_box):
    make_box("RGC-LOCKED", password="a-long-box-password-1")
    right = "Basic " + base64.b64encode(b"RGC-LOCKED:a-long-box-password-1").decode()
    exchange = heartbeat("RGC-LOCKED", authorization=right)
    exchanges_write([exchange, heartbeat("RGC-LOCKED")])
    assert exchange.failure is None


def test_a_batch_that_fails_as_a_whole_is_written_request_by_request(boxes, monkeypatch):
    """When a batch's statement fails (here: the shared INSERT of meter values, once), nothing of
    the batch was written: every request is done again alone and answered as it would have been."""
    real_store, failed = views.meter_reports_store, []

    def store_failing_once(reports, **kwargs):
        if len(reports) > 1 and not failed:
            failed.append(len(reports))
            raise OperationalError("the server closed the connection unexpectedly")
        return real_store(reports, **kwargs)

    monkeypatch.setattr(views, "meter_reports_store", store_failing_once)
    exchanges = [meter_values(box.serial) for box in boxes] + [meter_values("NO-SUCH-BOX")]
    ForwardCommitter(writers=1, batch=10).write(exchanges)
    assert failed == [4]
    assert [status_of(e) for e in exchanges] == [200, 200, 200, 200, 403]
    assert MeterValue.objects.count() == 8
    assert JournalEntry.objects.count() == 8  # once each, not once per attempt


def test_a_request_that_fails_alone_is_answered_500_and_costs_no_other_request(boxes, monkeypatch):
    def store_broken(reports, **kwargs):
        raise OperationalError("the server closed the connection unexpectedly")

    monkeypatch.setattr(views, "meter_reports_store", store_broken)
    exchanges = [meter_values("RGC-0"), heartbeat("RGC-1")]
    ForwardCommitter(writers=1, batch=10).write(exchanges)
    assert exchanges[0].failure is not None and error_answer(exchanges[0].failure) is None  # a 500
    assert status_of(exchanges[1]) == 200
    assert list(JournalEntry.objects.values_list("action", flat=True)) == ["heartbeat", "heartbeat"]
