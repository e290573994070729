"""Every value each OCPP 1.6 enumeration allows, read from the official schemas the `ocpp` package
ships (not from our code), is taken and stored: no column too short, no choice list too narrow."""

import json
from importlib.resources import files

import pytest
from conformance_kit import iso
from ocpp.v16 import call

SCHEMAS = files("ocpp.v16") / "schemas"


def enum(schema: str, *path: str) -> list[str]:
    node = json.loads((SCHEMAS / f"{schema}.json").read_text())
    for key in path:
        node = node[key]
    return node["enum"]


SAMPLED_VALUE = ("items", "properties", "sampledValue", "items", "properties")


@pytest.fixture
def box(transactional_db, make_box, make_tag, library_box):
    make_box("EN-1", connectors=2)
    make_tag("GOOD")
    client = library_box("EN-1")
    client.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
    return client


@pytest.mark.parametrize("attribute", ["context", "format", "measurand", "phase", "location", "unit"])
def test_every_sampled_value_attribute_value(box, attribute):
    # The two schemas differ (MeterValues knows Hertz, StopTransaction's transactionData does not).
    values = enum("MeterValues", "properties", "meterValue", *SAMPLED_VALUE, attribute)
    data_values = enum("StopTransaction", "properties", "transactionData", *SAMPLED_VALUE, attribute)
    started = box.call(call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=0, timestamp=iso()))
    box.call(call.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[
        {"timestamp": iso(), "sampledValue": [{"value": "1.5", attribute: value} for value in values]}]))
    stopped = box.call(call.StopTransaction(meter_stop=2, timestamp=iso(), transaction_id=started.transaction_id,
                                            transaction_data=[{"timestamp": iso(), "sampledValue": [
                                                {"value": "2", attribute: value} for value in data_values]}]))
    assert started.transaction_id > 0 and stopped is not None  # both answered, none refused


def test_every_status_with_every_error_code(box):
    for error_code in enum("StatusNotification", "properties", "errorCode"):
        for status in enum("StatusNotification", "properties", "status"):
            answer = box.call(call.StatusNotification(connector_id=1, error_code=error_code, status=status,
                                                      info="i" * 50, vendor_id="v" * 255, vendor_error_code="e" * 50))
            assert answer is not None, (status, error_code)


def test_every_stop_reason(box):
    for reason in enum("StopTransaction", "properties", "reason"):
        started = box.call(call.StartTransaction(connector_id=2, id_tag="GOOD", meter_start=0, timestamp=iso()))
        stopped = box.call(call.StopTransaction(meter_stop=1, timestamp=iso(), transaction_id=started.transaction_id,
                                                reason=reason, id_tag="G" * 20))
        assert stopped.id_tag_info["status"] == "Invalid", reason  # "GGG..." is no tag of ours


def test_every_firmware_and_diagnostics_status(box):
    answers = [box.call(call.FirmwareStatusNotification(status=status))
               for status in enum("FirmwareStatusNotification", "properties", "status")]
    answers += [box.call(call.DiagnosticsStatusNotification(status=status))
                for status in enum("DiagnosticsStatusNotification", "properties", "status")]
    expected = len(enum("FirmwareStatusNotification", "properties", "status")) + len(
        enum("DiagnosticsStatusNotification", "properties", "status"))
    assert len(answers) == expected and all(answer is not None for answer in answers)


def test_longest_values_the_schemas_allow(box):
    boot = {"charge_point_vendor": "v" * 20, "charge_point_model": "m" * 20, "charge_point_serial_number": "s" * 25,
            "charge_box_serial_number": "b" * 25, "firmware_version": "f" * 50, "iccid": "i" * 20, "imsi": "x" * 20,
            "meter_type": "t" * 25, "meter_serial_number": "n" * 25}
    assert box.call(call.BootNotification(**boot)).status == "Accepted"
    assert box.call(call.Authorize(id_tag="A" * 20)).id_tag_info["status"] == "Invalid"
    assert box.call(call.DataTransfer(vendor_id="v" * 255, message_id="m" * 50, data="d" * 5000)).status
    started = box.call(call.StartTransaction(connector_id=2**31 - 1, id_tag="A" * 20, meter_start=2**31 - 1,
                                             timestamp=iso(), reservation_id=2**31 - 1))
    assert started.transaction_id > 0
