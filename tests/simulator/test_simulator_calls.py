"""Every call a central system can make (OCPP 1.6 §5), sent by the real server (a command's delivery, through
the channel layer and the daphne process holding the box) to a simulated box, which answers within
the official schema and then does what a box does."""

import orjson
import pytest
from boxrunner import eventually
from schemas import schema_check

from chargers.models import ChargeBox, Connector, JournalEntry
from firmware.models import DiagnosticsStatusEvent, FirmwareStatusEvent
from calling import call_box_sync
from simulator.ocpp_box import VENDOR_ID
from transactions.models import MeterValue, Transaction

SERIAL, TAG = "SIM00001", "SIMTAG00001"


@pytest.fixture
def box(runner, provisioned):
    return runner.box(SERIAL, TAG)


def call(action: str, payload: dict) -> dict:
    outcome = call_box_sync(SERIAL, action, payload, timeout=10)
    assert outcome["status"] == "answered", outcome
    schema_check(f"{action}Response", outcome["payload"])
    return outcome["payload"]


def connector_status(connector_id: int) -> str:
    return Connector.objects.get(box__serial=SERIAL, connector_id=connector_id).status


PROFILE = {
    "chargingProfileId": 7, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]},
}


@pytest.mark.parametrize("action, payload, answer", [
    ("ClearCache", {}, {"status": "Accepted"}),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"}, {"status": "Accepted"}),
    ("ChangeConfiguration", {"key": "NumberOfConnectors", "value": "5"}, {"status": "Rejected"}),
    ("ChangeConfiguration", {"key": "NoSuchKey", "value": "1"}, {"status": "NotSupported"}),
    ("GetConfiguration", {"key": ["NumberOfConnectors", "NoSuchKey"]},
     {"configurationKey": [{"key": "NumberOfConnectors", "readonly": True, "value": "2"}],
      "unknownKey": ["NoSuchKey"]}),
    ("DataTransfer", {"vendorId": VENDOR_ID, "data": "ping"}, {"status": "Accepted", "data": "ping"}),
    ("DataTransfer", {"vendorId": "com.other"}, {"status": "UnknownVendorId"}),
    ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}),
    ("UnlockConnector", {"connectorId": 9}, {"status": "NotSupported"}),
    ("GetLocalListVersion", {}, {"listVersion": 0}),
    ("RemoteStopTransaction", {"transactionId": 123456}, {"status": "Rejected"}),
    ("CancelReservation", {"reservationId": 99}, {"status": "Rejected"}),
    ("ClearChargingProfile", {"id": 5}, {"status": "Unknown"}),
    ("TriggerMessage", {"requestedMessage": "Heartbeat"}, {"status": "Accepted"}),
])
def test_simple_calls_are_answered_as_a_box_would(box, action, payload, answer):
    assert call(action, payload) == answer


def test_remote_start_starts_a_session_and_remote_stop_ends_it(box):
    assert call("RemoteStartTransaction", {"connectorId": 1, "idTag": TAG}) == {"status": "Accepted"}
    tx = eventually(lambda: Transaction.objects.filter(box__serial=SERIAL, stopped_at__isnull=True).first(),
                    what="the session started")
    assert (tx.id_tag, tx.connector.connector_id) == (TAG, 1)
    eventually(lambda: connector_status(1) == "Charging")
    # The connector is taken: the box itself refuses a second start on it.
    assert call("RemoteStartTransaction", {"connectorId": 1, "idTag": TAG}) == {"status": "Rejected"}

    assert call("RemoteStopTransaction", {"transactionId": tx.id}) == {"status": "Accepted"}
    eventually(lambda: Transaction.objects.get(pk=tx.id).stopped_at is not None, what="the session stopped")
    assert Transaction.objects.get(pk=tx.id).stop_reason == "Remote"
    eventually(lambda: connector_status(1) == "Available")


def test_reset_reboots_the_box(box, runner):
    first_boot = ChargeBox.objects.get(serial=SERIAL).last_boot
    assert call("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    eventually(lambda: ChargeBox.objects.get(serial=SERIAL).last_boot > first_boot, what="a second boot")
    eventually(lambda: box.ready.is_set(), what="the box back")
    assert len(runner.stats.series["BootNotification"].latency) == 2


def test_update_firmware_reports_progress_and_boots_the_new_version(box):
    assert call("UpdateFirmware", {"location": "https://fw.example.com/sim-2.bin",
                                   "retrieveDate": "2020-01-01T00:00:00Z"}) == {}

    def history():
        return list(FirmwareStatusEvent.objects.filter(box__serial=SERIAL).order_by("id")
                    .values_list("status", flat=True))

    # OCPP 1.6 §6.29: Installed is sent once the box runs the new firmware, after its reboot.
    eventually(lambda: history() == ["Downloading", "Downloaded", "Installing", "Installed"], what="progress")
    assert ChargeBox.objects.get(serial=SERIAL).firmware_version == "sim-1.0+1"


def test_get_diagnostics_names_the_file_and_reports_the_upload(box):
    # The box really uploads over FTP (tests/firmware/test_diagnostics_files.py); here, to a port
    # where no server listens, so the upload fails and the box says so.
    answer = call("GetDiagnostics", {"location": "ftp://127.0.0.1:9/"})
    assert answer["fileName"].startswith(SERIAL)
    eventually(lambda: list(DiagnosticsStatusEvent.objects.filter(box__serial=SERIAL).order_by("id")
                            .values_list("status", flat=True)) == ["Uploading", "UploadFailed"], what="upload")
    # A location it has no client for (not FTP) is taken as uploaded.
    call("GetDiagnostics", {"location": "https://diag.example.com/"})
    eventually(lambda: list(DiagnosticsStatusEvent.objects.filter(box__serial=SERIAL).order_by("id")
                            .values_list("status", flat=True))[2:] == ["Uploading", "Uploaded"], what="upload")


def test_change_availability_sets_the_connector_and_waits_for_a_session(box, runner):
    assert call("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"}) == {"status": "Accepted"}
    eventually(lambda: connector_status(2) == "Unavailable")
    assert call("RemoteStartTransaction", {"connectorId": 2, "idTag": TAG}) == {"status": "Rejected"}
    assert call("ChangeAvailability", {"connectorId": 2, "type": "Operative"}) == {"status": "Accepted"}
    eventually(lambda: connector_status(2) == "Available")

    runner.run(box.start_session(1))
    # OCPP 1.6 §5.2: a connector in a session changes once the session is over.
    assert call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {"status": "Scheduled"}
    runner.run(box.stop_session(1))
    eventually(lambda: connector_status(1) == "Unavailable")


def test_reservation_holds_the_connector_until_cancelled(box):
    assert call("ReserveNow", {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": TAG,
                               "reservationId": 5}) == {"status": "Accepted"}
    eventually(lambda: connector_status(1) == "Reserved")
    assert call("ReserveNow", {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "OTHER",
                               "reservationId": 6}) == {"status": "Occupied"}
    assert call("CancelReservation", {"reservationId": 5}) == {"status": "Accepted"}
    eventually(lambda: connector_status(1) == "Available")


def test_local_list_versions(box):
    entries = [{"idTag": TAG, "idTagInfo": {"status": "Accepted"}}]
    assert call("SendLocalList", {"listVersion": 3, "updateType": "Full", "localAuthorizationList": entries}) == {
        "status": "Accepted"}
    assert call("GetLocalListVersion", {}) == {"listVersion": 3}
    assert call("SendLocalList", {"listVersion": 2, "updateType": "Differential"}) == {"status": "VersionMismatch"}


def test_charging_profiles_shape_the_composite_schedule(box):
    assert call("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": PROFILE}) == {"status": "Accepted"}
    # OCPP 1.6 §5.16: a TxProfile needs a session.
    tx_profile = {**PROFILE, "chargingProfileId": 8, "chargingProfilePurpose": "TxProfile"}
    assert call("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": tx_profile}) == {"status": "Rejected"}
    schedule = call("GetCompositeSchedule", {"connectorId": 1, "duration": 3600})
    assert schedule["status"] == "Accepted"
    assert schedule["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 16.0}]
    assert call("ClearChargingProfile", {"id": 7}) == {"status": "Accepted"}
    assert call("ClearChargingProfile", {"id": 7}) == {"status": "Unknown"}


def test_trigger_message_sends_the_message_asked_for(box):
    assert call("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1}) == {"status": "Accepted"}
    eventually(lambda: MeterValue.objects.filter(box__serial=SERIAL, context="Trigger").count() == 4)
    assert call("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 9}) == {
        "status": "Rejected"}


def test_an_unknown_action_gets_a_notimplemented_callerror(box, runner):
    """OCPP-J 1.6 §4.2.3. No central system sends such a call (command_validate refuses to), so the box's
    answering is driven directly; its CALLERROR reaches the server, which journals it as a stray."""
    runner.run(box._answer("x-1", "NoSuchAction", {}))
    frame = eventually(lambda: JournalEntry.objects.filter(box__serial=SERIAL, payload__contains='"x-1"').first())
    assert orjson.loads(frame.payload)[:3] == [4, "x-1", "NotImplemented"]
