"""The simulator's Kotodian boxes (simulator.kotodian_box, ``--protocol kotodian``) against the real
system: the broker `make test` starts, the bridge as a process of its own, daphne for the reverse API
and a Celery worker that publishes commands. The box registers, boots, charges with all three kinds
of meter message, answers a remote start and a remote stop, raises and clears an alarm, goes offline
and uploads the order of the session that ended meanwhile."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import aiomqtt
import pytest
from boxrunner import BoxRunner, eventually
from django.conf import settings
from django.core.management import call_command

from chargers.models import ChargeBox
from commands.models import Command
from kotodian import codec
from kotodian.proto import charger_pb2 as pb
from kotodian.topics import broker
from simulator.kotodian_box import KotodianBox, KotodianSettings, StampingClient
from transactions.models import MeterValue, Transaction

ROOT = Path(__file__).resolve().parents[2]
SERIAL, TAG = "SIM00001", "SIMTAG00001"


def registration_broker() -> str:
    """The test broker with the registration account boxes leave the factory with (ADR 0021)."""
    from urllib.parse import quote

    from kotodian.credentials import registration_credentials

    account, found = registration_credentials(), broker()
    return f"mqtt://{quote(account.username)}:{quote(account.password)}@{found['hostname']}:{found['port']}"


async def bridge_answers(timeout: float = 60) -> None:
    """The bridge serves: a probe with an unknown messageId is answered (EC_NotSupported)."""
    code = f"PROBE-{uuid.uuid4().hex[:8]}"
    found = broker()  # with the system's own account
    async with aiomqtt.Client(found["hostname"], found["port"], username=found["username"],
                              password=found["password"]) as client:
        await client.subscribe(f"/D/C/{code}", qos=2)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await client.publish(f"/U/C/{code}", pb.APDU(sequenceId=1, messageId=0x7E).SerializeToString(), qos=2)
            try:
                async with asyncio.timeout(1):
                    async for message in client.messages:
                        if codec.decode(bytes(message.payload)).message_id == pb.ID_MessageError:
                            return
            except TimeoutError:
                continue
    raise RuntimeError("the Kotodian bridge did not answer")


@pytest.fixture(scope="module")
def bridge(server_env):
    log_dir = os.environ.get("EVCHONG_VAR")
    log = open(Path(log_dir) / "kotodian-bridge-simulator.log", "w") if log_dir else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "manage.py", "kotodianbridge"],
                            env={**server_env, "OCPP_BOX_REFRESH": "0"}, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        asyncio.run(bridge_answers())
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def token(transactional_db):
    out = io.StringIO()
    call_command("apitoken", "backend", stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def box(bridge, transactional_db, make_box, make_tag):
    make_box(SERIAL, connectors=2)
    make_tag(TAG)
    runner = BoxRunner("http://unused")
    kotodian = KotodianBox(SERIAL, TAG, KotodianSettings(
        broker=registration_broker(), meter_interval=0.2, heartbeat_interval=1.0, call_timeout=5.0,
        reconnect_min=0.2, reconnect_max=1.0, reboot_seconds=0.2, firmware_step=0.1,
    ), runner.stats, runner.stop)

    async def start():
        runner.tasks.append(asyncio.create_task(kotodian.run()))
        await asyncio.wait_for(kotodian.ready.wait(), 15)

    runner.run(start(), timeout=20)
    kotodian.runner = runner
    yield kotodian
    runner.close()


def reverse(server: str, token: str, method: str, body: dict) -> dict:
    request = urllib.request.Request(f"{server}/evchong-api/reverse/v1/{method}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json",
                                                             "Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_registers_boots_and_charges_with_telemetry(box):
    row = ChargeBox.objects.get(serial=SERIAL)
    assert (row.protocol, row.registration_status, row.vendor) == ("kotodian", "Accepted", "EVCHONG-SIM")
    assert box.device_code == SERIAL and box.boot_status == "Accepted"
    eventually(lambda: box.runner.stats.series["Heartbeat"].latency, what="a heartbeat answered")

    transaction_id = box.runner.run(box.start_session(1))
    assert transaction_id == Transaction.objects.get(box=row).pk
    # Telemetry (Power in W), MeterValues and ChargingInfo (power in kW) all reach the database.
    eventually(lambda: {"W", "kW"} <= set(MeterValue.objects.filter(box=row, measurand="Power.Active.Import")
                                          .values_list("raw_unit", flat=True)), what="every kind of meter message")
    box.runner.run(box.stop_session(1))
    session = Transaction.objects.get(pk=transaction_id)
    assert session.stopped_at is not None and session.meter_stop_wh >= session.meter_start_wh
    assert not box.runner.stats.errors, box.runner.stats.errors


def test_answers_a_remote_start_and_stop_through_the_reverse_api(box, fast_server, token, celery_worker):
    answer = reverse(fast_server, token, "RemoteStartTransaction",
                     {"chargeBoxSerialNumber": SERIAL, "connectorId": 1, "idTag": TAG})
    assert answer["status"] == "Accepted", answer
    session = eventually(lambda: Transaction.objects.filter(box__serial=SERIAL, stopped_at=None).first(),
                         what="the session the remote start began")
    assert session.id_tag == TAG
    eventually(lambda: box.connectors[1].transaction_id == session.pk, what="the box's StartTransactionConf")
    assert box.runner.stats.calls_answered["RemoteStartTransaction"] == 1

    answer = reverse(fast_server, token, "RemoteStopTransaction",
                     {"chargeBoxSerialNumber": SERIAL, "transactionId": session.pk})
    assert answer["status"] == "Accepted", answer
    eventually(lambda: Transaction.objects.get(pk=session.pk).stopped_at, what="the remote stop")
    assert list(Command.objects.filter(box__serial=SERIAL).values_list("state", flat=True)) == ["accepted"] * 2


def accepted_or_refused_as_unsupported(box, action: str, accepted: bool) -> None:
    """Warning and Transaction are answered by the system, or, until it takes them, refused with
    EC_NotSupported: counted as an error of that action, and the box goes on."""
    errors = [kind for _, name, kind in box.runner.stats.errors if name == action]
    assert (accepted, errors) in ((True, []), (False, [f"MessageError {pb.ErrorCode.Name(pb.EC_NotSupported)}"])), \
        errors


def test_alarms_and_offline_orders_never_stop_the_box(box):
    raised = box.runner.run(box.alarm(106, level=pb.WL_Warning, info="power failure"))
    accepted_or_refused_as_unsupported(box, "Warning", raised)
    box.runner.stats.errors.clear()
    cleared = box.runner.run(box.alarm(106, clean=True))
    accepted_or_refused_as_unsupported(box, "Warning", cleared)
    box.runner.stats.errors.clear()

    transaction_id = box.runner.run(box.start_session(1))
    box.runner.run(box.go_offline(1.0))
    box.runner.run(box.stop_session(1))  # while offline: kept as an order
    assert [order.transaction_id for order in box.orders] == [str(transaction_id)]
    box.runner.run(asyncio.wait_for(box.ready.wait(), 15), timeout=20)
    eventually(lambda: not box.orders, what="the order uploaded")
    uploaded = box.runner.stats.events["offline orders uploaded"] == 1 and not box.runner.stats.errors
    accepted_or_refused_as_unsupported(box, "Transaction", uploaded)
    box.runner.run(box.heartbeat())  # and the box still talks to the system


def test_a_box_the_system_does_not_know_is_refused_and_counted(bridge, transactional_db):
    runner = BoxRunner("http://unused")
    stranger = KotodianBox("SIM09999", TAG, KotodianSettings(broker=registration_broker(), call_timeout=5.0,
                                                            reconnect_max=60.0), runner.stats, runner.stop)
    try:
        async def start():
            runner.tasks.append(asyncio.create_task(stranger.run()))

        runner.run(start())
        eventually(lambda: stranger.boot_status == "Rejected", what="the refusal")
        assert not stranger.ready.is_set() and not stranger.device_code
        assert [name for _, name, _ in runner.stats.errors] == ["DeviceRegistration"]
    finally:
        runner.close()


def test_the_cli_takes_kotodian_for_the_scenarios_that_fit_it(capsys):
    from simulator.cli import parse

    options, _ = parse(["storm", "--protocol", "kotodian", "--broker", "mqtt://127.0.0.1:1884"])
    assert (options.protocol, options.broker) == ("kotodian", "mqtt://127.0.0.1:1884")
    with pytest.raises(SystemExit):
        parse(["rest-meter", "--protocol", "kotodian"])
    assert "--protocol kotodian takes the scenarios" in capsys.readouterr().err


async def test_a_qos0_publish_is_stamped_when_paho_wrote_it_not_when_the_caller_resumed():
    found = broker()
    async with StampingClient(found["hostname"], found["port"], username=found["username"],
                              password=found["password"]) as client:
        called = time.monotonic()
        left = await client.publish_stamped("/bench/stamp", b"x", qos=0, timeout=5)
        resumed = time.monotonic()
        # Written on a later turn of the loop (aiomqtt hands paho's writes to the loop), and known only
        # by the on_publish callback: the stamp is neither the call nor the return.
        assert called < left <= resumed
        assert not client._published_at  # each stamp taken once: nothing kept per message


def test_the_bench_pairs_each_publish_with_the_commit_that_counted_it():
    from bench.kotodian import CommitProbe, ingest_figures

    probe = CommitProbe(system=None)
    # Three messages published at 10.00, 10.01 and 10.02; the database held 1 at 10.03, 3 at 10.05.
    probe.samples = [(10.0, 0), (10.03, 1), (10.04, 1), (10.05, 3)]
    report = {"published_monotonic": [10.0, 10.01, 10.02], "called_monotonic": [9.99, 10.0, 10.0], "t0_monotonic": 9.0,
              "window": {"start_s": 1.0, "seconds": 0.1}, "windows": [{}]}
    (figures,) = ingest_figures(report, probe)
    assert figures["count"] == 3 and figures["never_committed"] == 0
    # 10.00 -> 10.03, 10.01 -> 10.05 (the second counted), 10.02 -> 10.05
    assert (figures["p50_ms"], figures["max_ms"]) == (30.0, 40.0)
    assert figures["delay"]["max_ms"] == 20.0  # the box's own, from its publish call until the message left
    assert "published_monotonic" not in report and "called_monotonic" not in report  # not kept in the results
