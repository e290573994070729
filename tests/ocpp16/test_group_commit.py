"""The inbound pipeline under the OCPP edge (inbound.pipeline, ocpp16.edge): the frames of many boxes written in one transaction, every frame answered as
if it had been alone (a refused or broken one costs no other frame its answer or its data), and
only once its data is committed."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from django.utils import timezone
from channels.db import database_sync_to_async

from chargers.choices import Direction
from chargers.models import ChargeBox, JournalEntry
from commands.outcomes import Outcome
from inbound.edge import Message
from inbound.pipeline import batch_write
from inbound.writers import Writers
from ocpp16.edge import EDGE
from ocpp16.rpc import parse
from transactions.models import MeterValue, Transaction
from transactions.services import transaction_start

T = "2026-11-21T08:15:00Z"


def meter_values(unique_id: str, *, connector: int = 1, transaction: int | None = None, value: str = "1000") -> str:
    payload = {"connectorId": connector, "meterValue": [{"timestamp": T, "sampledValue": [
        {"value": value, "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
    ]}]}
    if transaction is not None:
        payload["transactionId"] = transaction
    return json.dumps([2, unique_id, "MeterValues", payload])


def job(box: ChargeBox, frame: str) -> Message:
    call = parse(frame)
    return Message(EDGE, frame, Direction.IN, call.action, box, request=call.payload, reference=call.unique_id,
                   answers=True)


def Committer(writers: int, batch: int) -> Writers:
    return Writers("test-writer", writers, batch)


@pytest.fixture
def boxes(transactional_db, make_box):
    return [make_box(f"GC-{n}", connectors=2) for n in range(5)]


def test_a_batch_answers_and_stores_every_box(boxes, make_tag):
    make_tag("TAG-GC")
    session = transaction_start(box=boxes[0], connector_id=1, id_tag="TAG-GC", meter_start_wh=0,
                                timestamp=timezone.now()).transaction
    jobs = [job(box, meter_values(f"mv-{n}", transaction=session.id if n == 0 else None))
            for n, box in enumerate(boxes)]
    jobs.append(job(boxes[0], json.dumps([2, "hb", "Heartbeat", {}])))
    batch_write(jobs)
    for n, done in enumerate(jobs[:5]):
        assert json.loads(done.reply) == [3, f"mv-{n}", {}]
    assert json.loads(jobs[5].reply)[:2] == [3, "hb"]
    assert MeterValue.objects.count() == 10
    assert MeterValue.objects.filter(transaction=session).count() == 2  # linked to its session
    # Frame and answer of every CALL in the journal, in order.
    assert JournalEntry.objects.count() == 12
    first = JournalEntry.objects.filter(box=boxes[0]).order_by("id")
    assert [e.direction for e in first] == [Direction.IN, Direction.OUT] * 2
    assert all(b.last_seen is not None for b in ChargeBox.objects.filter(pk__in=[b.pk for b in boxes]))


def test_a_session_of_another_box_is_not_linked(boxes, make_tag):
    make_tag("TAG-GC")
    session = transaction_start(box=boxes[0], connector_id=1, id_tag="TAG-GC", meter_start_wh=0,
                                timestamp=timezone.now()).transaction
    batch_write([job(boxes[1], meter_values("mv", transaction=session.id))])
    assert set(MeterValue.objects.values_list("transaction", "reported_transaction_id")) == {(None, session.id)}


def test_refusals_in_a_batch_are_answered_each_and_cost_the_others_nothing(boxes):
    jobs = [
        job(boxes[0], meter_values("good-0")),
        job(boxes[1], meter_values("bad-connector", connector=2**31)),  # no such connector
        job(boxes[2], json.dumps([2, "bad-schema", "MeterValues", {"connectorId": 1}])),
        job(boxes[3], meter_values("good-3")),
    ]
    batch_write(jobs)
    answers = {json.loads(j.reply)[1]: json.loads(j.reply) for j in jobs}
    assert answers["good-0"][0] == answers["good-3"][0] == 3
    assert answers["bad-connector"][2] == "PropertyConstraintViolation"
    assert answers["bad-schema"][2] == "OccurenceConstraintViolation"
    assert set(MeterValue.objects.values_list("box__serial", flat=True)) == {"GC-0", "GC-3"}


def test_a_batch_the_database_refuses_is_written_frame_by_frame(boxes):
    """A value the schema allows but PostgreSQL cannot hold breaks the whole batch's statement:
    the batch is taken back and every frame done alone, so only that frame fails."""
    jobs = [job(box, meter_values(f"mv-{n}")) for n, box in enumerate(boxes)]
    jobs[2] = job(boxes[2], meter_values("too-big", transaction=2**40))
    Committer(writers=1, batch=10).write(jobs)
    answers = [json.loads(j.reply) for j in jobs]
    assert [a[0] for a in answers] == [3, 3, 4, 3, 3]
    assert answers[2][2] == "PropertyConstraintViolation"
    assert MeterValue.objects.count() == 8
    # The refused frame is journaled with its answer all the same.
    assert JournalEntry.objects.filter(box=boxes[2], direction=Direction.OUT, payload__contains="too-big").exists()


def test_a_replayed_batch_adds_nothing(boxes):
    frames = [meter_values(f"mv-{n}") for n in range(len(boxes))]
    batch_write([job(box, frame) for box, frame in zip(boxes, frames)])
    batch_write([job(box, frame) for box, frame in zip(boxes, frames)])
    assert MeterValue.objects.count() == 10


def test_many_boxes_at_once_through_the_server(transactional_db, make_box, make_tag, ocpp_url):
    """Forty boxes send MeterValues at the same moment, ten times each: every frame is answered,
    and each answer comes only after its values are in the database."""
    boxes = [make_box(f"GCW-{n}", connectors=1) for n in range(40)]
    make_tag("TAG-GCW")

    async def box_session(serial: str) -> list[int]:
        stored_before_answer = []
        async with websockets.connect(ocpp_url + serial, subprotocols=["ocpp1.6"], open_timeout=20) as ws:
            for n in range(10):
                unique_id = f"{serial}-{n}"
                await ws.send(meter_values(unique_id, value=str(1000 + n)).replace(T, f"2026-11-21T08:15:{n:02d}Z"))
                answer = json.loads(await asyncio.wait_for(ws.recv(), 20))
                assert answer == [3, unique_id, {}], answer
                stored_before_answer.append(await count(serial, n))
        return stored_before_answer

    async def count(serial: str, n: int) -> int:
        return await database_sync_to_async(
            lambda: MeterValue.objects.filter(box__serial=serial, timestamp=f"2026-11-21T08:15:{n:02d}Z").count()
        )()

    async def fleet():
        return await asyncio.gather(*(box_session(box.serial) for box in boxes))

    results = asyncio.run(fleet())
    assert all(seen == [2] * 10 for seen in results)
    assert MeterValue.objects.filter(box__in=boxes).count() == 40 * 10 * 2
    assert JournalEntry.objects.filter(box__in=boxes, action="MeterValues").count() == 40 * 10 * 2
    assert not Transaction.objects.exists()


def status(unique_id: str, connector: int, status_: str = "Available", error: str = "NoError",
           timestamp: str | None = T, **extra) -> str:
    payload = {"connectorId": connector, "status": status_, "errorCode": error, **extra}
    if timestamp is not None:
        payload["timestamp"] = timestamp
    return json.dumps([2, unique_id, "StatusNotification", payload])


def test_status_reports_of_a_batch_are_written_as_one_at_a_time_would_write_them(boxes):
    from chargers.models import Alarm, Connector

    old = Alarm.objects.create(box=boxes[0], connector_id=1, status="Faulted", error_code="GroundFailure")
    Connector.objects.filter(box=boxes[2], connector_id=1).update(status="Charging",
                                                                  status_time="2026-11-21T09:00:00Z")
    jobs = [
        job(boxes[0], status("healthy-clears-alarm", 1, vendorId="ACME", info="ok")),
        job(boxes[1], status("faulted", 2, "Faulted", "GroundFailure")),  # raises an alarm: alone
        job(boxes[2], status("older-than-held", 1, "Available")),  # must not hide the newer Charging
        job(boxes[3], status("new-connector", 7)),  # not known yet: created, alone
        job(boxes[4], status("no-timestamp", 0, "Unavailable", timestamp=None)),
        job(boxes[4], status("bad-connector", 2**31)),  # refused, alone, costs the others nothing
    ]
    batch_write(jobs)
    answers = {json.loads(j.reply)[1]: json.loads(j.reply) for j in jobs}
    assert all(answers[name] == [3, name, {}] for name in
               ("healthy-clears-alarm", "faulted", "older-than-held", "new-connector", "no-timestamp"))
    assert answers["bad-connector"][0] == 4
    held = {(c.box.serial, c.connector_id): c for c in Connector.objects.select_related("box")}
    assert (held["GC-0", 1].status, held["GC-0", 1].vendor_id, held["GC-0", 1].info) == ("Available", "ACME", "ok")
    old.refresh_from_db()
    assert old.cleared is not None
    assert held["GC-1", 2].status == "Faulted" and Alarm.objects.filter(box=boxes[1], cleared__isnull=True).exists()
    assert held["GC-2", 1].status == "Charging"
    assert held["GC-3", 7].status == "Available"
    assert held["GC-4", 0].status == "Unavailable" and held["GC-4", 0].status_time is not None


def boot(unique_id: str, **payload) -> str:
    return json.dumps([2, unique_id, "BootNotification",
                       {"chargePointVendor": "ACME", "chargePointModel": "M1", **payload}])


def test_boots_of_a_batch_are_recorded_as_one_at_a_time_would_record_them(boxes):
    from chargers.models import Station

    station = Station.objects.create(code="ST-GC", name="Depot")
    ChargeBox.objects.filter(pk=boxes[1].pk).update(registration_status="Pending", firmware_version="1.0",
                                                    connected_node="node/1")
    jobs = [
        job(boxes[0], boot("joins-station", chargePointSerialNumber="ST-GC", firmwareVersion="2.1", iccid="8931")),
        job(boxes[1], boot("pending")),  # not accepted: told so, and what it said is still recorded
        job(boxes[2], boot("unknown-station", chargePointSerialNumber="NO-SUCH-STATION")),
        job(boxes[3], boot("bad-schema", chargePointVendor=7)),  # refused alone, costs the others nothing
        job(boxes[4], boot("first", firmwareVersion="3.0")),
        job(boxes[4], boot("again", meterType="M-9")),  # the same box twice in a batch: both kept
    ]
    batch_write(jobs)
    answers = {json.loads(j.reply)[1]: json.loads(j.reply) for j in jobs}
    assert [answers[name][2]["status"] for name in ("joins-station", "pending", "unknown-station", "first", "again")] \
        == ["Accepted", "Pending", "Accepted", "Accepted", "Accepted"]
    assert answers["bad-schema"][0] == 4
    held = {box.serial: box for box in ChargeBox.objects.all()}
    assert (held["GC-0"].station_id, held["GC-0"].firmware_version, held["GC-0"].iccid) == (station.pk, "2.1", "8931")
    assert held["GC-0"].last_boot is not None and held["GC-0"].protocol == "ocpp1.6"
    # Fields a boot does not carry are left as they were, the connection's node among them.
    assert (held["GC-1"].firmware_version, held["GC-1"].connected_node, held["GC-1"].vendor) == ("1.0", "node/1", "ACME")
    assert held["GC-2"].station_id is None and held["GC-2"].charge_point_serial == "NO-SUCH-STATION"
    assert held["GC-3"].last_boot is None
    assert (held["GC-4"].firmware_version, held["GC-4"].meter_type) == ("3.0", "M-9")
    # The consumers' copies of the booted boxes are read again for their next frame, as after a
    # boot answered alone; the refused boot rewrote nothing.
    assert [j.box.read_at is None for j in jobs] == [True, True, True, False, True, True]


def answer_to(box: ChargeBox, command, payload: dict) -> Message:
    """The box's CALLRESULT to ``command``, as the consumer hands it to the writers."""
    frame = json.dumps([3, f"cmd-{command.pk}", payload])
    return Message(EDGE, frame, Direction.IN, command.action, box,
                   sent=json.dumps([2, f"cmd-{command.pk}", command.action, {}]),
                   command_id=command.pk, outcome=Outcome.answered(payload))


def test_answers_to_commands_settle_them_in_the_batch_and_wake_their_waiters_after_the_commit(boxes, monkeypatch):
    from commands.models import Command, CommandState
    from commands import replies

    commands = [Command.objects.create(box=box, action="Reset", payload={"type": "Soft"}, state=CommandState.SENT)
                for box in boxes[:3]]
    woken = []

    def wake(settled):
        # Woken only once the batch is committed: another connection sees every outcome already.
        from django.db import connection
        assert not connection.in_atomic_block
        woken.append(sorted(command.pk for command in settled))

    monkeypatch.setattr(replies, "commands_wake", wake)
    jobs = [answer_to(boxes[0], commands[0], {"status": "Accepted"}),
            answer_to(boxes[1], commands[1], {"status": "Rejected"}),
            job(boxes[2], meter_values("mv")),  # a frame of the same batch that answers no command
            answer_to(boxes[2], commands[2], {"status": "Accepted"})]
    Committer(writers=1, batch=10).write(jobs)
    assert woken == [sorted(c.pk for c in commands)]  # one wake-up for the batch
    states = dict(Command.objects.values_list("pk", "state"))
    assert [states[c.pk] for c in commands] == [CommandState.ACCEPTED, CommandState.REJECTED, CommandState.ACCEPTED]
    # The answer and the CALL it answers are journaled in the same commit.
    assert JournalEntry.objects.filter(box=boxes[0], action="Reset").count() == 2
    # Settled once: the same answer again (a replayed frame) changes and wakes nothing more.
    woken.clear()
    Committer(writers=1, batch=10).write([answer_to(boxes[0], commands[0], {"status": "Rejected"})])
    assert woken == [] and Command.objects.get(pk=commands[0].pk).state == CommandState.ACCEPTED


def test_an_answer_that_cannot_be_stored_fails_its_command_and_costs_the_batch_nothing(boxes):
    from commands.models import Command, CommandState

    command = Command.objects.create(box=boxes[0], action="DataTransfer", payload={"vendorId": "x"},
                                     state=CommandState.SENT)
    unstorable = answer_to(boxes[0], command, {"status": "Accepted", "data": "x\u0000y"})  # jsonb refuses NUL
    jobs = [unstorable, job(boxes[1], meter_values("mv-1"))]
    Committer(writers=1, batch=10).write(jobs)
    command.refresh_from_db()
    assert (command.state, command.error_code) == (CommandState.FAILED, "InternalError")
    assert "could not be stored" in command.error_description
    assert json.loads(jobs[1].reply) == [3, "mv-1", {}] and MeterValue.objects.count() == 2


def test_an_answer_whose_frame_cannot_be_written_even_alone_still_settles_its_command(boxes, monkeypatch):
    from commands.models import Command, CommandState
    from inbound import pipeline

    command = Command.objects.create(box=boxes[0], action="Reset", payload={"type": "Soft"}, state=CommandState.SENT)

    def broken(*args, **kwargs):
        raise RuntimeError("the journal is away")

    monkeypatch.setattr(pipeline, "rows_insert", broken)
    unstorable = Command.objects.create(box=boxes[1], action="DataTransfer", payload={"vendorId": "x"},
                                        state=CommandState.SENT)
    Committer(writers=1, batch=10).write([answer_to(boxes[0], command, {"status": "Accepted"}),
                                          answer_to(boxes[1], unstorable, {"status": "Accepted", "data": "\u0000"})])
    # Not left open for the sweep: the box's answer is its command's all the same, and an answer
    # that cannot be stored either fails its command, saying why.
    command.refresh_from_db()
    unstorable.refresh_from_db()
    assert (command.state, command.response) == (CommandState.ACCEPTED, {"status": "Accepted"})
    assert (unstorable.state, unstorable.error_code) == (CommandState.FAILED, "InternalError")
