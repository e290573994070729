"""evchong_api.serializers.validated reuses one serializer per thread: nothing of one request's
validation may show in the next one's, in the same thread or another."""

import threading

import pytest
from rest_framework.exceptions import ValidationError

from evchong_api.serializers import MeterValuesInput, StartTransInput, validated

T = 1764547200000  # 2025-12-01T00:00:00Z in epoch milliseconds


def meter(*values):
    return {"chargeBoxSerialNumber": "CB1", "connectorId": 1, "transactionId": 7,
            "values": [{"timestamp": T, "value": v, "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                       for v in values]}


def test_a_refused_request_leaves_nothing_for_the_next_one():
    with pytest.raises(ValidationError) as refused:
        validated(StartTransInput, {"chargeBoxSerialNumber": "CB1", "connectorId": 0, "idTag": "T"})
    assert {"connectorId", "meterStart", "timestamp"} <= set(refused.value.detail)
    data = validated(StartTransInput, {"chargeBoxSerialNumber": "CB1", "connectorId": 2, "idTag": "T",
                                       "meterStart": 5, "timestamp": T})
    assert (data["connectorId"], data["meterStart"]) == (2, 5)


def test_nested_lists_of_each_request_are_its_own():
    first = validated(MeterValuesInput, meter("1", "2", "3"))
    second = validated(MeterValuesInput, meter("9"))
    assert [v["value"] for v in first["values"]] == ["1", "2", "3"]
    assert [v["value"] for v in second["values"]] == ["9"]
    with pytest.raises(ValidationError):
        validated(MeterValuesInput, {**meter("1"), "values": [{"timestamp": T, "value": "1", "measurand": "Nope"}]})
    assert [v["value"] for v in validated(MeterValuesInput, meter("4", "5"))["values"]] == ["4", "5"]


def test_threads_validate_side_by_side():
    results, failures = {}, []

    def run(n):
        try:
            for _ in range(200):
                data = validated(MeterValuesInput, meter(*(str(n * 1000 + i) for i in range(n))))
                assert [v["value"] for v in data["values"]] == [str(n * 1000 + i) for i in range(n)]
            results[n] = True
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and len(results) == 8
