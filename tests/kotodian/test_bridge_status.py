"""StatusNotification's connectorState by DESIGN 3's table, onto OCPP connector statuses; firmware
status and vendor data."""

import pytest

from chargers.models import Connector
from firmware.models import DiagnosticsStatusEvent, FirmwareStatusEvent
from kotodian.proto import charger_pb2 as pb

START = 1_780_000_000


def report(box, state: int, connector: str = "1"):
    return box.call("C", pb.ID_StatusNotificationReq, pb.StatusNotificationReq(connectorId=connector,
                                                                               connectorState=state))


@pytest.mark.parametrize(("state", "status", "raw"), [
    (0, "Unavailable", "Unavailable"), (1, "Available", "Available"), (2, "Preparing", "Occupied"),
    (3, "Reserved", "Reserved"), (4, "Faulted", "Faulted"), (5, "Preparing", "Preparing"),
    (6, "Charging", "Charging"), (7, "SuspendedEV", "SuspendedEV"), (8, "SuspendedEVSE", "SuspendedEVSE"),
    (9, "Finishing", "Finishing"),
])
def test_connector_state_table(booted, state, status, raw):
    row, box = booted
    reply = report(box, state)
    assert reply.message_id == pb.ID_StatusNotificationConf and reply.message.connectorId == "1"
    connector = Connector.objects.get(box=row, connector_id=1)
    assert (connector.status, connector.raw_status) == (status, raw)
    assert connector.error_code == ("OtherError" if status == "Faulted" else "NoError")


def test_occupied_during_a_session_is_charging(booted, make_tag):
    make_tag("CARD-OCC")
    row, box = booted
    box.call("C", pb.ID_StartTransactionReq, pb.StartTransactionReq(
        connectorId="2", IdData=pb.IdToken(id="CARD-OCC"), meterStart=1, timestamp=START))
    report(box, 2, connector="2")
    connector = Connector.objects.get(box=row, connector_id=2)
    assert (connector.status, connector.raw_status) == ("Charging", "Occupied")


def test_a_state_outside_the_table_is_a_type_violation(booted):
    row, box = booted
    reply = report(box, 42)
    assert reply.message_id == pb.ID_MessageError and reply.message.error == pb.EC_TypeViolation


def test_firmware_status_is_recorded_in_ocpp_words(booted):
    row, box = booted
    reply = box.call("C", pb.ID_FirmwareStatusNotificationReq, pb.FirmwareStatusNotificationReq(
        status=pb.FW_Installing))
    assert reply.message_id == pb.ID_FirmwareStatusNotificationConf
    assert FirmwareStatusEvent.objects.get(box=row).status == "Installing"


def test_data_transfer_of_an_unknown_vendor_is_rejected(booted):
    row, box = booted
    reply = box.call("C", pb.ID_DataTransferReq, pb.DataTransferReq(vendor_id="acme", message_id="X01", data="{}"))
    assert reply.message_id == pb.ID_DataTransferConf
    assert (reply.message.status, reply.message.response) == (pb.DataTransferConf.Rejected, "UnknownVendorId")


def test_diagnostics_status_has_no_reply_and_is_recorded(booted, wait_for):
    row, box = booted
    sent = box.send("C", pb.ID_DiagnosticsStatusNotificationReq, pb.DiagnosticsStatusNotificationReq(
        status=pb.DGS_Uploaded))
    assert box.no_reply(sent)
    wait_for(lambda: DiagnosticsStatusEvent.objects.filter(box=row, status="Uploaded").exists())
