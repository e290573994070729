"""What the Kotodian command edge sends for each call (DESIGN 3's reverse API mapping), what it
refuses before a command is issued, and which boxes it still counts as reachable."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chargers.models import ChargeBox
from commands.edges import CommandInvalid, command_edge
from commands.services import command_validate
from kotodian.delivery import command_check, request_of
from kotodian.handlers import NODE
from kotodian.presence import boxes_silent_release
from kotodian.proto import charger_pb2 as pb


def test_the_edge_is_registered_for_kotodian_boxes():
    edge = command_edge("kotodian")
    assert edge.actions == {
        "RemoteStartTransaction", "RemoteStopTransaction", "Reset", "UpdateFirmware", "ChangeConfiguration",
        "GetConfiguration", "TriggerMessage", "ChangeAvailability", "ReserveNow", "CancelReservation", "SendLocalList",
        "UpdateIdCardCache", "ClearCache", "SetTariff", "GetTransactions", "GetWarning", "GetDiagnostics", "GetLog",
        "SetChargingProfile", "ClearChargingProfile", "DataTransfer"}


def test_requests_for_each_call():
    message_id, start = request_of("RemoteStartTransaction", {"connectorId": 2, "idTag": "CARD"})
    assert (message_id, start.connectorId, start.IdData.id) == (pb.ID_RemoteStartTransactionReq, "2", "CARD")
    message_id, start = request_of("RemoteStartTransaction", {"connectorId": None, "idTag": "CARD"})
    assert start.connectorId == ""  # the box picks one
    message_id, stop = request_of("RemoteStopTransaction", {"transactionId": 991})
    assert (message_id, stop.transactionId) == (pb.ID_RemoteStopTransactionReq, "991")
    for kind, parameter in (("Hard", "0"), ("Soft", "1")):
        message_id, reset = request_of("Reset", {"type": kind})
        assert (message_id, reset.function, reset.parameter) == (pb.ID_RemoteControlReq, "Reset", parameter)
    message_id, update = request_of("UpdateFirmware", {"location": "ftp://h/fw.bin", "retrieveDate":
                                                       "2027-01-02T03:04:05Z", "retries": 3, "retryInterval": 60})
    assert (message_id, update.url, update.retryDate, update.retries, update.retryInterval) == (
        pb.ID_UpdateFirmwareReq, "ftp://h/fw.bin", 1798859045, 3, 60)


@pytest.mark.parametrize(("action", "payload"), [
    ("RemoteStartTransaction", {"connectorId": 1}),
    ("RemoteStartTransaction", {"connectorId": 0, "idTag": "CARD"}),
    ("RemoteStartTransaction", {"connectorId": 1, "idTag": "C" * 21}),
    ("RemoteStartTransaction", {"idTag": "CARD", "chargingProfile": {}}),
    ("RemoteStopTransaction", {"transactionId": "12"}),
    ("Reset", {"type": "Warm"}),
    ("UpdateFirmware", {"location": "ftp://h/fw.bin", "retrieveDate": "tomorrow"}),
    ("UpdateFirmware", {"retrieveDate": "2027-01-02T03:04:05Z"}),
    # Numbers the OCPP schema lets through, past what the Kotodian field holds (never a 500).
    ("GetDiagnostics", {"retries": 2**40}),
    ("SendLocalList", {"listVersion": 2**40, "updateType": "Full"}),
    ("ClearChargingProfile", {"id": -1}),
    ("ClearChargingProfile", {"stackLevel": 2**40}),
    ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 3, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute", "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [
            {"startPeriod": 2**70, "limit": 16}]}}}),
    ("GetTransactions", {"connectorId": 2**40}),
    ("GetLog", {"logType": "DiagnosticsLog", "requestId": -1}),
])
def test_payloads_a_kotodian_box_cannot_take_are_refused(action, payload):
    with pytest.raises(CommandInvalid) as refused:
        command_check(action, payload)
    assert refused.value.field == "payload"


def test_calls_kotodian_has_no_message_for_are_refused(make_box):
    box = make_box("KT-CALLS")
    ChargeBox.objects.filter(pk=box.pk).update(protocol="kotodian")
    box.refresh_from_db()
    with pytest.raises(CommandInvalid) as refused:
        command_validate(box=box, action="UnlockConnector", payload={"connectorId": 1})
    assert refused.value.field == "action"


def test_boxes_silent_for_three_heartbeat_intervals_take_no_more_commands(make_box, settings):
    settings.HEARTBEAT_INTERVAL = 60
    now = timezone.now()
    for serial, seen in (("KT-QUIET", now - timedelta(seconds=181)), ("KT-ALIVE", now - timedelta(seconds=170))):
        box = make_box(serial)
        ChargeBox.objects.filter(pk=box.pk).update(protocol="kotodian", connected_node=NODE, last_seen=seen)
    other = make_box("OCPP-QUIET")
    ChargeBox.objects.filter(pk=other.pk).update(protocol="ocpp1.6", connected_node="n",
                                                 last_seen=now - timedelta(hours=1))
    assert boxes_silent_release() == 1
    nodes = dict(ChargeBox.objects.values_list("serial", "connected_node"))
    assert nodes == {"KT-QUIET": "", "KT-ALIVE": NODE, "OCPP-QUIET": "n"}
