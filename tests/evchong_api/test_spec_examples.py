"""The eight request examples of EVCHONG section 2, sent as printed (broken braces repaired,
line breaks of the PDF removed), in every envelope real boxes use."""

import time

import pytest

from chargers.models import ChargeBox, Connector
from firmware.models import FirmwareStatusEvent
from transactions.models import MeterValue, Transaction

DEVICE_BOOT = (
    '{ "iccid":{ "iccid":"xxxxx"}, "chargePointModel":{ "chargePointModel":"Keli-0001"}, "chargePointVendor":'
    '{ "chargePointVendor":"mmmmm"}, "chargeBoxSerialNumber":{ "chargeBoxSerialNumber":"mmmmm"}, '
    '"chargePointSerialNumber":{ "chargePointSerialNumber":"mmmmm"}, "imsi":{ "imsi":"xxxxx"}, "meterType":'
    '{ "meterType":"xxxxx"}, "firmwareVersion":{ "firmwareVersion":"xxxxx"},"meterSerialNumber":'
    '{ "meterSerialNumber":"xxxxx"} }'
)
AUTHORIZE = '{"authReq":{"idToken":{"idToken":"mmmmm"},"chargeBoxSerialNumber":{"chargeBoxSerialNumber":"mmmmm"}}}'
HEARTBEAT = '{"chargePointSerialNumber":{"chargePointSerialNumber":"xxxxxx"},"chargeBoxSerialNumber":{"chargeBoxSerialNumber":"mmmmm"}}'
START_TRANS = (
    '{"idToken":{"idToken":"ooooo"},"connectorId":1,"meterStart":1,"reservationId":1,'
    '"chargeBoxSerialNumber":{"chargeBoxSerialNumber":"ooooo"},"timestamp":1425289031076}'
)
METER_VALUES = (
    '{"connectorId":1,"transactionId":1,"chargeBoxSerialNumber":{"chargeBoxSerialNumber":"xxxxx"},"values":['
    '{"measurand":"Energy_Active_Import_Register","unit":"kWh","value":"xxxxx","location":"Outlet",'
    '"context":"Sample_Periodic","format":"Raw","timestamp":1425289652130},'
    '{"measurand":"Current.Import","unit":"Amp","value":"xxxxx","location":"Outlet","context":"Sample_Periodic",'
    '"format":"Raw","timestamp":1425289652130},'
    '{ "measurand":"Voltage","unit":"Volt" ,"value":"xxxxx","location":"Outlet","context":"Sample_Periodic",'
    '"format":"Raw","timestamp":1425289652130}]}'
)
STOP_TRANS = (
    '{ "idTag":{ "idToken":"xxxxx"}, "transactionId":1, "transactionData":{ "values":[{"measurand":'
    '"Energy_Active_Import_Register", "unit":"Wh", "value":"xxxxx", "location":"Outlet", "context":'
    '"Sample_Periodic", "format":"Raw", "timestamp":1425289652130}]},"chargeBoxSerialNumber":'
    '{"chargeBoxSerialNumber":"ooooo"},"meterStop":1,"timestamp":1425290113204}'
)
STATUS_NOTIFY = (
    '{"connectorId":1,"vendorErrorCode":"ooooo","chargeBoxSerialNumber":{"chargeBoxSerialNumber":"ooooo"},'
    '"errorCode":"GroundFailure","vendorId":"ooooo","info":"xxxxx","timestamp":1425290540330,'
    '"status":"Available","transcationId":""}'
)
FIRMWARE_STATUS_NOTIFY = '{ "chargeBoxSerialNumber":{ "chargeBoxSerialNumber":"mmmmm" } ,"status":"Downloaded" }'

ENVELOPES = ["form", "raw-data", "json", "multipart"]


def now_ms():
    return int(time.time() * 1000)


def assert_recent_ms(value):
    assert isinstance(value, int) and abs(value - now_ms()) < 60_000


@pytest.fixture(autouse=True)
def world(spec_world):
    pass


@pytest.mark.parametrize("envelope", ENVELOPES)
def test_device_boot_example_is_accepted_and_recorded(evchong, envelope):
    response = evchong.post("deviceBoot", DEVICE_BOOT, envelope)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "Accepted"
    assert body["heartbeatInterval"] > 0
    assert_recent_ms(body["currentTime"])
    box = ChargeBox.objects.get(serial="mmmmm")
    assert (box.vendor, box.model, box.iccid, box.imsi) == ("mmmmm", "Keli-0001", "xxxxx", "xxxxx")
    assert (box.meter_type, box.meter_serial, box.firmware_version) == ("xxxxx", "xxxxx", "xxxxx")
    assert box.charge_point_serial == "mmmmm"
    assert box.last_boot is not None


@pytest.mark.parametrize("envelope", ENVELOPES)
def test_authorize_example_answers_in_auth_res(evchong, envelope):
    response = evchong.post("authorize", AUTHORIZE, envelope)
    assert response.status_code == 200
    assert response.json() == {"authRes": {"idTagInfo": {"status": "Accepted"}}}


@pytest.mark.parametrize("envelope", ENVELOPES)
def test_heartbeat_example_answers_current_time(evchong, envelope):
    response = evchong.post("heartbeat", HEARTBEAT, envelope)
    assert response.status_code == 200
    assert list(response.json()) == ["currentTime"]
    assert_recent_ms(response.json()["currentTime"])
    assert ChargeBox.objects.get(serial="mmmmm").last_seen is not None


# The examples expect transaction id 1: a fresh sequence, as on a new system.
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_start_trans_example_opens_transaction_1(evchong):
    response = evchong.post("startTrans", START_TRANS, "raw-data")
    assert response.status_code == 200
    assert response.json() == {"idTagInfo": {"status": "Accepted"}, "transactionId": 1}
    tx = Transaction.objects.get(pk=1)
    assert (tx.box.serial, tx.connector.connector_id, tx.id_tag, tx.meter_start_wh) == ("ooooo", 1, "ooooo", 1)
    assert tx.started_at.timestamp() == 1425289031.076
    assert tx.reservation_id == 1 and tx.is_active


@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_whole_session_of_the_examples(evchong):
    """startTrans, meterValues, stopTrans, statusNotify and firmwareStatusNotify in order."""
    assert evchong.post("startTrans", START_TRANS, "form").json()["transactionId"] == 1

    response = evchong.post("meterValues", METER_VALUES, "form")
    assert response.status_code == 200
    assert response.json()["transactionId"] == 1
    assert_recent_ms(response.json()["timestamp"])
    # The example's values are placeholders ("xxxxx"): stored raw, with no number.
    stored = MeterValue.objects.filter(box__serial="xxxxx").order_by("measurand")
    assert [(m.measurand, m.unit, m.raw_unit, m.value, m.raw_value) for m in stored] == [
        ("Current.Import", "A", "Amp", None, "xxxxx"),
        ("Energy.Active.Import.Register", "Wh", "kWh", None, "xxxxx"),
        ("Voltage", "V", "Volt", None, "xxxxx"),
    ]
    assert {(m.location, m.context, m.format) for m in stored} == {("Outlet", "Sample.Periodic", "Raw")}

    response = evchong.post("stopTrans", STOP_TRANS, "form")
    assert response.status_code == 200
    assert response.json() == {"idTagInfo": {"status": "Accepted"}, "transactionId": 1}
    tx = Transaction.objects.get(pk=1)
    assert not tx.is_active
    assert (tx.meter_stop_wh, tx.energy_wh, tx.stop_id_tag) == (1, 0, "xxxxx")
    assert tx.meter_values.filter(measurand="Energy.Active.Import.Register", raw_value="xxxxx").count() == 1

    response = evchong.post("statusNotify", STATUS_NOTIFY, "form")
    assert response.status_code == 200
    assert_recent_ms(response.json()["timestamp"])
    connector = Connector.objects.get(box__serial="ooooo", connector_id=1)
    assert (connector.status, connector.error_code, connector.vendor_error_code, connector.info) == (
        "Available", "GroundFailure", "ooooo", "xxxxx"
    )
    assert connector.status_time.timestamp() == 1425290540.33

    response = evchong.post("firmwareStatusNotify", FIRMWARE_STATUS_NOTIFY, "form")
    assert response.status_code == 200
    assert_recent_ms(response.json()["timestamp"])
    assert FirmwareStatusEvent.objects.get(box__serial="mmmmm").status == "Downloaded"


def test_every_frame_is_journaled_both_ways(evchong):
    evchong.post("heartbeat", HEARTBEAT, "form")
    entries = list(ChargeBox.objects.get(serial="mmmmm").journal.order_by("id"))
    assert [(e.direction, e.action) for e in entries] == [("in", "heartbeat"), ("out", "heartbeat")]
    assert "chargeBoxSerialNumber" in entries[0].payload and "currentTime" in entries[1].payload
