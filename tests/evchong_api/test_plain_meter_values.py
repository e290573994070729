"""The plain path of meterValues validation (evchong_api.serializers.plain_meter_values) gives
either nothing (the serializer decides) or exactly what MeterValuesInput gives, for the same
request. Requests are built from every kind of value each field may carry, in random combinations
with a fixed seed, so that the two are compared on far more shapes than are written out here."""

import random

import pytest

from evchong_api.serializers import MeterValuesInput, plain_meter_values, validated

T = 1764547200000  # 2025-12-01T00:00:00Z in epoch milliseconds

# Every field of a sampled value with values of every kind the serializer treats apart: absent
# (ABSENT), null, blank, blanks around, another type, too long, NUL, non-ASCII, a known word in
# another spelling, an unknown word.
ABSENT = object()
TEXT_CASES = [None, "", " ", "\t", 5, 5.0, True, ["x"], {"x": 1}, "é", "\x00", "a\x00b", "\ud800"]
SAMPLED = {
    "timestamp": [T, T + 1, 10**12, 10**13 - 1, 10**12 - 1, 10**13, float(T), T + 0.5, str(T), f" {T} ",
                  "2025-12-01T00:00:00Z", "2025-12-01 00:00:00", "2025-02-30T00:00:00Z", True, None, ABSENT, "x"],
    "value": ["123456", "7000.1", "", " 12 ", "x" * 2500, "x" * 2501, "xxxxx", ABSENT, *TEXT_CASES],
    "measurand": ["Energy.Active.Import.Register", "Energy_Active_Import_Register", "Voltage", " Voltage",
                  "voltage", "Power.Active.Import", "Nope", "x" * 51, ABSENT, *TEXT_CASES],
    "unit": ["Wh", "kWh", "W", "Amp", "Volt", "A", "V", "wh", " Wh", "Furlong", "x" * 11, ABSENT, *TEXT_CASES],
    "phase": ["L1", "L2-N", "l1", " L1", "L4", ABSENT, *TEXT_CASES],
    "location": ["Outlet", "Body", "outlet", " Outlet", "Roof", ABSENT, *TEXT_CASES],
    "context": ["Sample_Periodic", "Sample.Periodic", "sample.periodic", "Transaction.Begin", " Trigger",
                "Periodic", "x" * 21, ABSENT, *TEXT_CASES],
    "format": ["Raw", "SignedData", "raw", " Raw", "Cooked", ABSENT, *TEXT_CASES],
}
TOP = {
    "chargeBoxSerialNumber": ["SIM00001", "xxxxx", "x" * 25, "x" * 26, " SIM1", "SIM 1", 12345, ABSENT,
                              *TEXT_CASES],
    "connectorId": [0, 1, 2**31 - 1, 2**31, -1, "1", 1.0, 1.5, True, None, ABSENT],
    "transactionId": [-1, 0, 7, 2**31 - 1, 2**31, -2, "7", 7.0, False, None, ABSENT],
}


def pick(options: dict, rng: random.Random, plain_bias: float) -> dict:
    """A dict with a value for each field: mostly the first (plain) ones, so that requests with
    one odd field among plain ones are common."""
    chosen = {name: (cases[0] if rng.random() < plain_bias else rng.choice(cases)) for name, cases in options.items()}
    return {name: value for name, value in chosen.items() if value is not ABSENT}


def serializer_answer(data):
    serializer = MeterValuesInput(data=data)
    return serializer.validated_data if serializer.is_valid() else None


def as_plain_data(found):
    """``found`` with each value as its type and repr: 1 and True, or two datetimes in different
    zones, compare equal, and must not pass for each other here."""
    def leaf(value):
        return type(value).__name__, repr(value)

    if found is None:
        return None
    return {name: [{k: leaf(v) for k, v in sampled.items()} for sampled in value] if name == "values" else leaf(value)
            for name, value in found.items()}


def test_the_shapes_boxes_send_take_the_plain_path():
    common = {"location": "Outlet", "context": "Sample_Periodic", "format": "Raw", "timestamp": T}
    simulator = {"chargeBoxSerialNumber": "SIM00001", "connectorId": 1, "transactionId": 5, "values": [
        {"measurand": "Energy_Active_Import_Register", "unit": "Wh", "value": "123456", **common},
        {"measurand": "Power.Active.Import", "unit": "W", "value": "7000.1", **common},
        {"measurand": "Current.Import", "unit": "Amp", "value": "10.12", **common},
        {"measurand": "Voltage", "unit": "Volt", "value": "230.1", **common}]}
    minimal = {"chargeBoxSerialNumber": "CB1", "connectorId": 0, "transactionId": -1,
               "values": [{"timestamp": T, "value": "1", "measurand": "Voltage"}]}
    for data in (simulator, minimal, {**minimal, "values": []}):
        found = plain_meter_values(data)
        assert found is not None
        assert as_plain_data(found) == as_plain_data(serializer_answer(data))
        assert validated(MeterValuesInput, data) is not None
    assert plain_meter_values(simulator)["values"][0]["measurand"] == "Energy.Active.Import.Register"
    assert plain_meter_values(simulator)["values"][0]["context"] == "Sample.Periodic"


@pytest.mark.parametrize("seed", range(4))
def test_plain_path_and_serializer_agree(seed):
    rng = random.Random(seed)
    took_plain = 0
    for _ in range(1500):
        data = pick(TOP, rng, 0.7)
        data["values"] = [pick(SAMPLED, rng, 0.8) for _ in range(rng.choice([0, 1, 1, 2, 4]))]
        if rng.random() < 0.03:
            data["values"] = rng.choice([None, "x", {"value": "1"}, [1], ["x"], [None]])
        found = plain_meter_values(data)
        if found is not None:
            took_plain += 1
            assert as_plain_data(found) == as_plain_data(serializer_answer(data)), data
    assert took_plain > 100  # the comparison above was made, on many requests


def test_not_a_mapping_is_the_serializers_to_refuse():
    for data in (None, [], "x", 1, [{"chargeBoxSerialNumber": "CB1"}]):
        assert plain_meter_values(data) is None
