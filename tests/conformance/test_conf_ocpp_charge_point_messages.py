"""OCTT-style cases for the messages a charge point sends (OCPP 1.6 §4), from an `ocpp` library
ChargePoint that checks each of our answers against the official schemas. What the central system
made of them is read back from outside, through the read API (DESIGN.md §3)."""

from datetime import UTC, datetime, timedelta

import pytest
from conformance_kit import iso, parse_iso
from ocpp.exceptions import OCPPError
from ocpp.v16 import call

BOOT = call.BootNotification(charge_point_vendor="Conformance", charge_point_model="OCTT-1",
                             firmware_version="1.0.0", charge_point_serial_number="CP-SN-1")


@pytest.fixture
def world(transactional_db, make_box, make_tag):
    make_box("CF-1", connectors=2)
    make_tag("GOOD")
    make_tag("GROUP")
    make_tag("MEMBER", parent="GROUP")
    make_tag("OLD", expiry="2020-01-01T00:00:00Z")
    make_tag("BLOCKED", status="Blocked")
    make_tag("EXPIRED", status="Expired")


@pytest.fixture
def box(world, library_box):
    client = library_box("CF-1")
    assert client.call(BOOT).status == "Accepted"
    return client


def status(box, connector_id, state, error_code="NoError", **extra):
    return box.call(call.StatusNotification(connector_id=connector_id, error_code=error_code, status=state, **extra))


def read_box(http, token, serial="CF-1") -> dict:
    code, body = http.get_json(f"/api/v1/boxes/{serial}", token)
    assert code == 200, body
    return body


def read_transaction(http, token, transaction_id) -> dict:
    code, body = http.get_json(f"/api/v1/transactions/{transaction_id}", token)
    assert code == 200, body
    return body


def connector_status(http, token, connector_id) -> str:
    return {c["connectorId"]: c["status"] for c in read_box(http, token)["connectors"]}[connector_id]


def test_cold_boot(world, library_box, http, api_token, settings):
    """TC_001 Cold boot: BootNotification, StatusNotification for connector 0 and every connector,
    Heartbeat; the box is online with the reported firmware."""
    box = library_box("CF-1")
    before = datetime.now(UTC) - timedelta(seconds=2)
    boot = box.call(BOOT)
    assert boot.status == "Accepted"
    assert boot.interval == settings.HEARTBEAT_INTERVAL
    assert before <= parse_iso(boot.current_time) <= datetime.now(UTC) + timedelta(seconds=2)
    for connector_id in (0, 1, 2):
        assert status(box, connector_id, "Available", timestamp=iso()) is not None
    heartbeat = box.call(call.Heartbeat())
    assert abs(parse_iso(heartbeat.current_time) - datetime.now(UTC)) < timedelta(seconds=5)

    state = read_box(http, api_token)
    assert state["online"] is True and state["firmwareVersion"] == "1.0.0"
    assert {c["connectorId"]: (c["status"], c["errorCode"]) for c in state["connectors"]} == {
        0: ("Available", "NoError"), 1: ("Available", "NoError"), 2: ("Available", "NoError")}


def test_status_notification_with_every_optional_field_and_a_fault(box, http, api_token):
    status(box, 0, "Unavailable", timestamp=iso(), info="maintenance", vendor_id="com.example",
           vendor_error_code="E-17")
    status(box, 2, "Faulted", error_code="GroundFailure", info="RCD tripped", vendor_error_code="RCD")
    connectors = {c["connectorId"]: c for c in read_box(http, api_token)["connectors"]}
    assert connectors[0]["status"] == "Unavailable" and connectors[0]["vendorErrorCode"] == "E-17"
    assert (connectors[2]["status"], connectors[2]["errorCode"]) == ("Faulted", "GroundFailure")


@pytest.mark.parametrize("tag, expected", [
    ("GOOD", {"status": "Accepted"}),
    ("UNKNOWN-TAG", {"status": "Invalid"}),
    ("BLOCKED", {"status": "Blocked"}),
    ("EXPIRED", {"status": "Expired"}),
    ("OLD", {"status": "Expired", "expiry_date": "2020-01-01T00:00:00.000Z"}),
    ("MEMBER", {"status": "Accepted", "parent_id_tag": "GROUP"}),
])
def test_authorize(box, tag, expected):
    """TC_003/TC_004 Authorize: Accepted, Invalid, Blocked, Expired (by status and by date)."""
    info = box.call(call.Authorize(id_tag=tag)).id_tag_info
    if "expiry_date" in info:
        parse_iso(info["expiry_date"])
    assert info == expected


def test_authorize_id_tag_longer_than_20_is_refused_by_schema(box):
    """CiString20Type: the library would not even send it, so the frame goes out raw."""
    with pytest.raises(OCPPError) as refused:
        box.run(box.cp.call(call.Authorize(id_tag="T" * 21), suppress=False, skip_schema_validation=True))
    assert refused.value.code == "PropertyConstraintViolation"


def sampled_meter_values(at: datetime, energy_wh: float) -> list[dict]:
    """Several sampledValues in one MeterValue: register, per-phase current and voltage, power in
    kW, SoC; attributes omitted where the spec has defaults."""
    return [{"timestamp": iso(at), "sampledValue": [
        {"value": f"{energy_wh:.0f}"},  # all defaults: Energy.Active.Import.Register, Wh, Outlet, Raw
        {"value": "16.1", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
        {"value": "15.9", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
        {"value": "231.0", "measurand": "Voltage", "phase": "L1-N", "unit": "V", "location": "Inlet"},
        {"value": "11.04", "measurand": "Power.Active.Import", "unit": "kW", "context": "Sample.Periodic"},
        {"value": "57", "measurand": "SoC", "unit": "Percent", "location": "EV", "format": "Raw"},
    ]}]


def test_session_plug_in_first(box, http, api_token):
    """TC_010 (cable first): Preparing, Authorize, StartTransaction, Charging, MeterValues,
    SuspendedEV, StopTransaction (EVDisconnected, with transactionData), Finishing, Available."""
    start_at = datetime.now(UTC) - timedelta(minutes=30)
    status(box, 1, "Preparing", timestamp=iso(start_at))
    assert box.call(call.Authorize(id_tag="GOOD")).id_tag_info["status"] == "Accepted"
    started = box.call(call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=12000,
                                             timestamp=iso(start_at)))
    assert started.id_tag_info["status"] == "Accepted"
    tx = started.transaction_id
    status(box, 1, "Charging")
    assert connector_status(http, api_token, 1) == "Charging"
    box.call(call.MeterValues(connector_id=1, transaction_id=tx,
                              meter_value=sampled_meter_values(start_at + timedelta(minutes=10), 13500)))
    status(box, 1, "SuspendedEV")
    stop_at = start_at + timedelta(minutes=20)
    stopped = box.call(call.StopTransaction(
        meter_stop=15250, timestamp=iso(stop_at), transaction_id=tx, reason="EVDisconnected", id_tag="GOOD",
        transaction_data=[
            {"timestamp": iso(start_at), "sampledValue": [{"value": "12.0", "unit": "kWh",
                                                          "context": "Transaction.Begin"}]},
            {"timestamp": iso(stop_at), "sampledValue": [{"value": "15.25", "unit": "kWh",
                                                         "context": "Transaction.End"}]},
        ],
    ))
    assert stopped.id_tag_info == {"status": "Accepted"}
    status(box, 1, "Finishing")
    status(box, 1, "Available")

    session = read_transaction(http, api_token, tx)
    assert (session["box"], session["connectorId"], session["idTag"]) == ("CF-1", 1, "GOOD")
    assert (session["meterStartWh"], session["meterStopWh"], session["energyWh"]) == (12000, 15250, 3250)
    assert session["stopReason"] == "EVDisconnected"
    assert datetime.fromisoformat(session["startedAt"]) == parse_iso(iso(start_at))
    values = {(v["measurand"], v["phase"], v["context"]): (v["value"], v["unit"], v["location"])
              for v in session["meterValues"]}
    assert values[("Energy.Active.Import.Register", "", "Sample.Periodic")] == (13500.0, "Wh", "Outlet")
    assert values[("Current.Import", "L2", "Sample.Periodic")] == (15.9, "A", "Outlet")
    assert values[("Voltage", "L1-N", "Sample.Periodic")] == (231.0, "V", "Inlet")
    assert values[("Power.Active.Import", "", "Sample.Periodic")] == (11040.0, "W", "Outlet")
    assert values[("SoC", "", "Sample.Periodic")] == (57.0, "Percent", "EV")
    assert values[("Energy.Active.Import.Register", "", "Transaction.Begin")] == (12000.0, "Wh", "Outlet")
    assert values[("Energy.Active.Import.Register", "", "Transaction.End")] == (15250.0, "Wh", "Outlet")
    assert connector_status(http, api_token, 1) == "Available"


def test_session_identification_first(box, http, api_token):
    """TC_011 (identification first), ended locally with the same card: reason Local."""
    assert box.call(call.Authorize(id_tag="MEMBER")).id_tag_info == {"status": "Accepted", "parent_id_tag": "GROUP"}
    status(box, 2, "Preparing")
    started = box.call(call.StartTransaction(connector_id=2, id_tag="MEMBER", meter_start=0, timestamp=iso()))
    assert started.id_tag_info == {"status": "Accepted", "parent_id_tag": "GROUP"}
    status(box, 2, "Charging")
    box.call(call.MeterValues(connector_id=2, transaction_id=started.transaction_id,
                              meter_value=[{"timestamp": iso(), "sampledValue": [{"value": "250"}]}]))
    stopped = box.call(call.StopTransaction(meter_stop=500, timestamp=iso(), transaction_id=started.transaction_id,
                                            id_tag="MEMBER", reason="Local"))
    assert stopped.id_tag_info["status"] == "Accepted"
    session = read_transaction(http, api_token, started.transaction_id)
    assert (session["energyWh"], session["stopReason"], session["connectorId"]) == (500, "Local", 2)


def test_start_transaction_for_a_refused_tag_is_recorded_and_refused(box):
    for tag, expected in (("BLOCKED", "Blocked"), ("UNKNOWN-TAG", "Invalid")):
        started = box.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=0, timestamp=iso()))
        assert started.id_tag_info["status"] == expected and started.transaction_id > 0
        box.call(call.StopTransaction(meter_stop=0, timestamp=iso(), transaction_id=started.transaction_id,
                                      reason="DeAuthorized"))


def test_start_transaction_replay_gets_the_same_id(box):
    """Boxes resend an unanswered StartTransaction with a new message id: the same session."""
    request = call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=100, timestamp=iso())
    first = box.call(request)
    again = box.call(request)
    assert again.transaction_id == first.transaction_id
    assert again.id_tag_info == first.id_tag_info == {"status": "Accepted"}


def test_same_tag_on_a_second_connector_is_concurrent(box):
    box.call(call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=0, timestamp=iso()))
    second = box.call(call.StartTransaction(connector_id=2, id_tag="GOOD", meter_start=0, timestamp=iso()))
    assert second.id_tag_info["status"] == "ConcurrentTx"


def test_stop_transaction_for_an_unknown_transaction_is_accepted(box):
    """The box must not resend it forever: a CALLRESULT, with or without idTagInfo."""
    assert box.call(call.StopTransaction(meter_stop=10, timestamp=iso(), transaction_id=987654)).id_tag_info is None
    answer = box.call(call.StopTransaction(meter_stop=10, timestamp=iso(), transaction_id=987655, id_tag="GOOD",
                                           reason="Other"))
    assert answer.id_tag_info == {"status": "Accepted"}


def test_offline_transaction_is_reported_late_in_the_past(box, http, api_token):
    """TC_037-like: the box charged while offline and delivers its queue after reconnecting: a
    StartTransaction, queued MeterValues and the StopTransaction, all with timestamps in the past."""
    began = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
    started = box.call(call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=5000,
                                             timestamp=iso(began)))
    tx = started.transaction_id
    for minute in (15, 30, 45):
        box.call(call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[
            {"timestamp": iso(began + timedelta(minutes=minute)),
             "sampledValue": [{"value": str(5000 + minute * 100), "context": "Sample.Periodic"}]}]))
    box.call(call.StopTransaction(meter_stop=11000, timestamp=iso(began + timedelta(hours=1)), transaction_id=tx,
                                  reason="Local", id_tag="GOOD"))
    session = read_transaction(http, api_token, tx)
    assert datetime.fromisoformat(session["startedAt"]) == began
    assert datetime.fromisoformat(session["stoppedAt"]) == began + timedelta(hours=1)
    assert session["energyWh"] == 6000
    assert [v["value"] for v in session["meterValues"]] == [6500.0, 8000.0, 9500.0]


def test_power_loss_during_a_session(box, world, library_box, http, api_token):
    """The box loses power mid-session, reconnects, boots again, reports its connectors and the
    stop it queued (reason PowerLoss); the old connection is gone."""
    started = box.call(call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=0, timestamp=iso()))
    status(box, 1, "Charging")
    rebooted = library_box("CF-1")  # the new connection replaces the half-dead one
    assert rebooted.call(BOOT).status == "Accepted"
    for connector_id in (0, 1, 2):
        status(rebooted, connector_id, "Available")
    stopped = rebooted.call(call.StopTransaction(meter_stop=700, timestamp=iso(),
                                                 transaction_id=started.transaction_id, reason="PowerLoss"))
    assert stopped.id_tag_info == {"status": "Accepted"}  # the session's own tag, still good
    session = read_transaction(http, api_token, started.transaction_id)
    assert (session["stopReason"], session["energyWh"]) == ("PowerLoss", 700)
    assert read_box(http, api_token)["online"] is True
    box.wait_closed()


def test_power_loss_without_the_stop_a_new_start_ends_the_old_session(box, http, api_token):
    """A box that lost the old stop starts anew on the same connector: it cannot run two."""
    first = box.call(call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=0,
                                           timestamp=iso(datetime.now(UTC) - timedelta(hours=1))))
    box.call(BOOT)
    second = box.call(call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=900, timestamp=iso()))
    assert second.transaction_id != first.transaction_id
    assert second.id_tag_info == {"status": "Accepted"}
    assert read_transaction(http, api_token, first.transaction_id)["stoppedAt"] is not None


@pytest.mark.parametrize("stage", ["Downloading", "Downloaded", "Installing", "Installed", "DownloadFailed",
                                   "InstallationFailed", "Idle"])
def test_firmware_status_notification(box, stage):
    assert box.call(call.FirmwareStatusNotification(status=stage)) is not None


@pytest.mark.parametrize("stage", ["Idle", "Uploading", "Uploaded", "UploadFailed"])
def test_diagnostics_status_notification(box, stage):
    assert box.call(call.DiagnosticsStatusNotification(status=stage)) is not None


def test_data_transfer_from_an_unknown_vendor(box):
    answer = box.call(call.DataTransfer(vendor_id="com.unknown.vendor", message_id="Hello", data='{"x": 1}'))
    assert answer.status == "UnknownVendorId"


def test_meter_values_on_connector_zero_without_a_transaction(box, http, api_token):
    box.call(call.MeterValues(connector_id=0, meter_value=[{"timestamp": iso(), "sampledValue": [
        {"value": "49.98", "measurand": "Frequency"},
        {"value": "32.5", "measurand": "Temperature", "unit": "Celsius", "location": "Body"}]}]))
    # Taken, and the box is still served: values of the box itself belong to no session.
    assert box.call(call.Heartbeat()).current_time
    assert read_box(http, api_token)["online"] is True


@pytest.mark.parametrize("stamp", [
    "2026-03-01T10:00:00Z", "2026-03-01T10:00:00.5Z", "2026-03-01T10:00:00.123Z", "2026-03-01T18:00:00+08:00",
    "2026-03-01T10:00:00.123456Z", "2026-03-01t10:00:00z",
])
def test_every_rfc3339_timestamp_form_is_taken(box, http, api_token, stamp):
    """RFC 3339 §5.6 allows a lower-case t and z; boxes send offsets and microseconds."""
    started = box.call(call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=0, timestamp=stamp))
    assert started.id_tag_info["status"] == "Accepted"
    box.call(call.StopTransaction(meter_stop=1, timestamp=stamp, transaction_id=started.transaction_id))
    session = http.get_json(f"/api/v1/transactions/{started.transaction_id}", api_token)[1]
    sent = datetime.fromisoformat(stamp.upper())
    for recorded in (session["startedAt"], session["stoppedAt"]):
        assert abs(datetime.fromisoformat(recorded) - sent) < timedelta(milliseconds=1)
