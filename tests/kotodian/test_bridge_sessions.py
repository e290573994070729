"""Authorize, a charging session with meter values, and its stop, from a Kotodian box over MQTT:
the energy in kWh as the box counts it, in Wh in the read API."""

import pytest
from django.test import Client

from kotodian.proto import charger_pb2 as pb
from transactions.models import MeterValue, Transaction

START = 1_780_000_000


@pytest.fixture
def read_api(backend_token):
    client = Client(HTTP_AUTHORIZATION=f"Token {backend_token}")
    return lambda path: client.get(path)


def test_authorize_accepted_and_unknown_tags(booted, make_tag):
    make_tag("CARD-1")
    row, box = booted
    accepted = box.call("C", pb.ID_AuthorizeReq, pb.AuthorizeReq(IdData=pb.IdToken(id="CARD-1")))
    assert accepted.message_id == pb.ID_AuthorizeConf
    assert (accepted.message.idInfo.id, accepted.message.idInfo.status) == ("CARD-1", pb.AS_Accepted)
    unknown = box.call("C", pb.ID_AuthorizeReq, pb.AuthorizeReq(IdData=pb.IdToken(id="NOBODY")))
    assert unknown.message.idInfo.status == pb.AS_Invalid


def test_a_session_with_meter_values_and_its_stop(booted, make_tag, read_api, wait_for):
    make_tag("CARD-2")
    row, box = booted
    started = box.call("C", pb.ID_StartTransactionReq, pb.StartTransactionReq(
        connectorId="1", IdData=pb.IdToken(id="CARD-2"), meterStart=1234.5, timestamp=START, recordId="R-9"))
    assert started.message_id == pb.ID_StartTransactionConf
    assert started.message.idInfo.status == pb.AS_Accepted and started.message.recordID == "R-9"
    transaction_id = int(started.message.transactionId)  # the decimal string of our id
    session = Transaction.objects.get(pk=transaction_id)
    assert (session.box_id, session.meter_start_wh, session.id_tag) == (row.pk, 1_234_500, "CARD-2")

    # Telemetry has no reply (kotodian-apdu 1.3); it is stored all the same.
    sent = box.send("M", pb.ID_MeterValuesReq, pb.MeterValuesReq(
        connectorId="1", transactionId=str(transaction_id), timestamp=START + 60, electricity=1240.25,
        currentA=16.5, voltageA=230.1, power=3.8, soc=42))
    assert box.no_reply(sent)
    wait_for(lambda: MeterValue.objects.filter(transaction_id=transaction_id).count() == 5)
    values = {(v.measurand, v.phase): (v.value, v.unit)
              for v in MeterValue.objects.filter(transaction_id=transaction_id)}
    assert values[("Energy.Active.Import.Register", "")] == (1_240_250, "Wh")
    assert values[("Current.Import", "L1")] == (16.5, "A")
    assert values[("Voltage", "L1")] == (230.1, "V")
    assert values[("Power.Active.Import", "")] == (3800, "W")
    assert values[("SoC", "")] == (42, "Percent")

    stopped = box.call("C", pb.ID_StopTransactionReq, pb.StopTransactionReq(
        transactionId=str(transaction_id), meterStop=1250.75, timestamp=START + 600, reason=pb.SR_RemoteUser,
        connectorId="1"))
    assert stopped.message_id == pb.ID_StopTransactionConf and stopped.message.transactionId == str(transaction_id)

    response = read_api(f"/api/v1/transactions/{transaction_id}")
    assert response.status_code == 200
    body = response.json()
    assert (body["meterStartWh"], body["meterStopWh"], body["energyWh"]) == (1_234_500, 1_250_750, 16_250)
    assert body["stopReason"] == "SR_RemoteUser"
    assert body["stoppedAt"] is not None


def test_a_stop_reason_too_long_for_the_row_is_other(booted, make_tag):
    make_tag("CARD-3")
    row, box = booted
    started = box.call("C", pb.ID_StartTransactionReq, pb.StartTransactionReq(
        connectorId="2", IdData=pb.IdToken(id="CARD-3"), meterStart=10, timestamp=START))
    transaction_id = int(started.message.transactionId)
    box.call("C", pb.ID_StopTransactionReq, pb.StopTransactionReq(
        transactionId=str(transaction_id), meterStop=11, timestamp=START + 60, reason=pb.SR_PriceSchemeException))
    # SR_PriceSchemeException (23 characters) does not fit the 20 of stop_reason; the journal has it.
    assert Transaction.objects.get(pk=transaction_id).stop_reason == "Other"


def test_telemetry_values_are_stored_in_canonical_units(booted, wait_for):
    row, box = booted
    box.send("M", pb.ID_TelemetryReq, pb.TelemetryReq(connectorId="1", values=[
        pb.SampledValue(measurand=142, value=7.2),  # PowerKilowatts
        pb.SampledValue(measurand=143, value=1500),  # MilliCurrent
        pb.SampledValue(measurand=134, value=12.5),  # Electricity, kWh
        pb.SampledValue(measurand=144, value=3),  # ConnectorStatus: no OCPP measurand, kept by name
    ]))
    wait_for(lambda: MeterValue.objects.filter(box=row).count() == 4)
    values = {v.measurand: (v.value, v.unit) for v in MeterValue.objects.filter(box=row)}
    assert values["Power.Active.Import"] == (7200, "W")
    assert values["Current.Import"] == (1.5, "A")
    assert values["Energy.Active.Import.Register"] == (12_500, "Wh")
    assert values["ConnectorStatus"][0] == 3


def test_a_connector_id_that_is_no_number_is_a_type_violation(booted):
    row, box = booted
    reply = box.call("C", pb.ID_StartTransactionReq, pb.StartTransactionReq(
        connectorId="left", IdData=pb.IdToken(id="X"), meterStart=1, timestamp=START))
    assert reply.message_id == pb.ID_MessageError and reply.message.error == pb.EC_TypeViolation
    assert "connectorId" in reply.message.Description
