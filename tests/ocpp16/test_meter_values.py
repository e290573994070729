"""MeterValues (OCPP 1.6 §4.7): every sampledValue attribute is kept, with the spec's defaults for
what a box leaves out (§7.43: a bare value is an active import energy register reading in Wh at the
outlet, periodic, raw), normalised to the domain's units; replays add nothing."""

from chargers.models import JournalEntry
from transactions.models import MeterValue, Transaction

T = "2026-11-21T08:15:00Z"


def test_a_bare_value_takes_the_spec_defaults(cp):
    assert cp.call("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": T, "sampledValue": [
        {"value": "1234"}]}]}) == {}
    value = MeterValue.objects.get()
    assert (value.measurand, value.value, value.unit, value.location, value.context, value.format, value.phase) == (
        "Energy.Active.Import.Register", 1234, "Wh", "Outlet", "Sample.Periodic", "Raw", "")
    assert (value.connector_id, value.transaction, value.raw_value) == (1, None, "1234")


def test_every_attribute_is_kept_and_units_normalised(cp, make_tag):
    make_tag("TAG-1")
    tx_id = cp.call("StartTransaction", {"connectorId": 2, "idTag": "TAG-1", "meterStart": 0,
                                         "timestamp": "2026-11-21T08:00:00Z"})["transactionId"]
    cp.call("MeterValues", {"connectorId": 2, "transactionId": tx_id, "meterValue": [{"timestamp": T, "sampledValue": [
        {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW", "context": "Sample.Clock",
         "location": "Outlet", "format": "Raw"},
        {"value": "230.4", "measurand": "Voltage", "unit": "V", "phase": "L1-N", "location": "Inlet"},
        {"value": "31", "measurand": "Current.Import", "unit": "A", "phase": "L2", "context": "Trigger"},
        {"value": "41.5", "measurand": "Temperature", "unit": "Celcius", "location": "Body"},
        {"value": "50", "measurand": "Frequency", "unit": "Hertz"},
        {"value": "0A1B2C", "measurand": "Energy.Active.Import.Register", "format": "SignedData",
         "context": "Sample.Clock"},
    ]}]})
    rows = {v.measurand: v for v in MeterValue.objects.filter(transaction_id=tx_id)}
    assert (rows["Power.Active.Import"].value, rows["Power.Active.Import"].unit) == (7200, "W")
    assert (rows["Power.Active.Import"].context, rows["Power.Active.Import"].raw_unit) == ("Sample.Clock", "kW")
    assert (rows["Voltage"].phase, rows["Voltage"].location, rows["Voltage"].value) == ("L1-N", "Inlet", 230.4)
    assert (rows["Current.Import"].phase, rows["Current.Import"].context) == ("L2", "Trigger")
    assert (rows["Temperature"].value, rows["Temperature"].unit, rows["Temperature"].location) == (
        41.5, "Celsius", "Body")
    assert (rows["Frequency"].value, rows["Frequency"].unit) == (50, "Hz")
    signed = rows["Energy.Active.Import.Register"]
    assert (signed.format, signed.value, signed.raw_value) == ("SignedData", None, "0A1B2C")
    assert all(row.reported_transaction_id == tx_id and row.connector_id == 2 for row in rows.values())


def test_connector_zero_is_the_main_meter(cp):
    cp.call("MeterValues", {"connectorId": 0, "meterValue": [{"timestamp": T, "sampledValue": [{"value": "99"}]}]})
    assert MeterValue.objects.get().connector_id == 0


def test_a_replay_adds_nothing(cp):
    message = {"connectorId": 1, "meterValue": [{"timestamp": T, "sampledValue": [{"value": "10"}]}]}
    cp.call("MeterValues", message)
    cp.call("MeterValues", message)
    assert MeterValue.objects.count() == 1
    assert JournalEntry.objects.filter(box__serial="CP-1", action="MeterValues", direction="in").count() == 2


def test_values_for_a_transaction_we_do_not_know_are_kept(cp):
    cp.call("MeterValues", {"connectorId": 1, "transactionId": 999, "meterValue": [
        {"timestamp": T, "sampledValue": [{"value": "10"}]}]})
    assert MeterValue.objects.get().reported_transaction_id == 999
    assert not Transaction.objects.exists()


def test_schema_violations_store_nothing(cp):
    value = {"timestamp": T, "sampledValue": [{"value": "1"}]}
    assert cp.call_error("MeterValues", {"connectorId": 1, "meterValue": []})[0] == "OccurenceConstraintViolation"
    assert cp.call_error("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": T, "sampledValue": [
        {"value": "1", "measurand": "Happiness"}]}]})[0] == "PropertyConstraintViolation"
    assert cp.call_error("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": T, "sampledValue": [
        {"value": 1}]}]})[0] == "TypeConstraintViolation"
    assert cp.call_error("MeterValues", {"meterValue": [value]})[0] == "OccurenceConstraintViolation"
    assert cp.call_error("MeterValues", {"connectorId": -1, "meterValue": [value]})[0] == \
        "PropertyConstraintViolation"
    assert not MeterValue.objects.exists()
