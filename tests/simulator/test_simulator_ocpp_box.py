"""The simulated OCPP box's own life against the real server: boot, status, heartbeats, a session
with meter values, and coming back after the server dropped it."""

import asyncio

from boxrunner import eventually
from websockets.sync.client import connect

from chargers.models import ChargeBox, Connector, JournalEntry
from transactions.models import MeterValue, Transaction


def test_box_boots_and_reports_every_connector(runner, provisioned):
    box = runner.box("SIM00001", "SIMTAG00001")
    assert box.boot_status == "Accepted"
    row = ChargeBox.objects.get(serial="SIM00001")
    assert (row.vendor, row.model, row.firmware_version) == ("EVCHONG", "Simulator", "sim-1.0")
    assert row.last_boot is not None and row.connected_node
    # OCPP 1.6 §4.9: connector 0 (the box) and each connector.
    statuses = dict(Connector.objects.filter(box=row).values_list("connector_id", "status"))
    assert statuses == {0: "Available", 1: "Available", 2: "Available"}
    assert runner.stats.series["BootNotification"].latency and runner.stats.errors == []


def test_box_takes_the_heartbeat_interval_the_server_gives(runner, provisioned, settings):
    box = runner.box("SIM00001", "SIMTAG00001")
    assert box.heartbeat_interval == settings.HEARTBEAT_INTERVAL


def test_box_sends_heartbeats_every_interval(runner, provisioned):
    runner.box("SIM00001", "SIMTAG00001", heartbeat_interval=0.3)
    beats = JournalEntry.objects.filter(box__serial="SIM00001", action="Heartbeat", direction="in")
    eventually(lambda: beats.count() >= 2, what="two heartbeats")
    first, second = beats.order_by("id")[:2]
    assert (second.at - first.at).total_seconds() >= 0.2  # at the interval, not in a burst


def test_session_with_meter_values_is_recorded(runner, provisioned):
    box = runner.box("SIM00002", "SIMTAG00002", meter_interval=0.2, power_w=36000)
    transaction_id = runner.run(box.start_session(1))
    assert transaction_id is not None
    eventually(lambda: Connector.objects.get(box__serial="SIM00002", connector_id=1).status == "Charging")
    eventually(lambda: MeterValue.objects.filter(transaction_id=transaction_id).count() >= 8,
               what="two MeterValues of four sampled values")
    runner.run(box.stop_session(1))

    tx = Transaction.objects.get(pk=transaction_id)
    assert (tx.id_tag, tx.stop_reason) == ("SIMTAG00002", "Local")
    assert tx.stopped_at is not None and tx.energy_wh > 0
    measurands = set(MeterValue.objects.filter(transaction=tx).values_list("measurand", flat=True))
    assert {"Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage"} <= measurands
    assert Connector.objects.get(box__serial="SIM00002", connector_id=1).status == "Available"
    assert runner.stats.errors == []


def test_box_reconnects_with_jitter_when_the_server_drops_it(runner, provisioned, live_server_url):
    box = runner.box("SIM00003", "SIMTAG00003")
    # A second connection of the same box makes the server close the first one.
    url = live_server_url.replace("http://", "ws://") + "/ocpp/SIM00003"
    with connect(url, subprotocols=["ocpp1.6"]):
        eventually(lambda: runner.stats.events["connection lost"] == 1, what="the first connection closed")
    # The simulator comes back by itself; having booted already, it reports status, not a boot.
    eventually(lambda: box.ready.is_set() and runner.stats.online == 1, what="the box back online")
    assert len(runner.stats.series["BootNotification"].latency) == 1
    assert runner.run(box.call("Heartbeat", {}))["currentTime"]


def test_calls_of_a_box_wait_while_it_is_offline(runner, provisioned):
    """A transaction message sent while the connection is down goes out once it is back."""
    box = runner.box("SIM00001", "SIMTAG00001")

    async def drop_then_meter():
        await box.ws.close()
        await asyncio.sleep(0.05)
        assert not box.online.is_set()
        await box.send_meter_values(box.connectors[1])

    runner.run(drop_then_meter(), timeout=20)
    assert MeterValue.objects.filter(box__serial="SIM00001").count() == 4
