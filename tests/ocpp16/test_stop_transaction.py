"""StopTransaction (OCPP 1.6 §4.10): the session closes with its reason and transaction data; a stop
for a session we never heard of is answered too (the box would retry forever) and kept."""

from chargers.models import JournalEntry
from transactions.models import MeterValue, Transaction

START = {"connectorId": 1, "idTag": "TAG-1", "meterStart": 1000, "timestamp": "2026-11-21T08:00:00Z"}


def started(cp, make_tag) -> int:
    make_tag("TAG-1")
    return cp.call("StartTransaction", START)["transactionId"]


def test_stop_with_reason_and_transaction_data(cp, make_tag):
    tx_id = started(cp, make_tag)
    answer = cp.call("StopTransaction", {
        "transactionId": tx_id, "idTag": "TAG-1", "meterStop": 8500, "timestamp": "2026-11-21T09:00:00Z",
        "reason": "EVDisconnected",
        "transactionData": [
            {"timestamp": "2026-11-21T08:00:00Z",
             "sampledValue": [{"value": "1000", "context": "Transaction.Begin"}]},
            {"timestamp": "2026-11-21T09:00:00Z",
             "sampledValue": [{"value": "8.5", "unit": "kWh", "context": "Transaction.End"},
                              {"value": "31.5", "measurand": "SoC", "unit": "Percent", "location": "EV",
                               "context": "Transaction.End"}]},
        ],
    })
    assert answer == {"idTagInfo": {"status": "Accepted"}}
    tx = Transaction.objects.get(pk=tx_id)
    assert (tx.meter_stop_wh, tx.energy_wh, tx.stop_reason, tx.stop_id_tag) == (8500, 7500, "EVDisconnected", "TAG-1")
    values = {(v.measurand, v.context): (v.value, v.unit) for v in tx.meter_values.all()}
    assert values == {
        ("Energy.Active.Import.Register", "Transaction.Begin"): (1000, "Wh"),
        ("Energy.Active.Import.Register", "Transaction.End"): (8500, "Wh"),
        ("SoC", "Transaction.End"): (31.5, "Percent"),
    }


def test_no_reason_means_local(cp, make_tag):
    tx_id = started(cp, make_tag)
    cp.call("StopTransaction", {"transactionId": tx_id, "meterStop": 1200, "timestamp": "2026-11-21T08:30:00Z"})
    assert Transaction.objects.get(pk=tx_id).stop_reason == "Local"


def test_a_stop_without_tag_is_answered_about_the_session_tag(cp, make_tag):
    tx_id = started(cp, make_tag)
    answer = cp.call("StopTransaction", {"transactionId": tx_id, "meterStop": 1200, "reason": "PowerLoss",
                                         "timestamp": "2026-11-21T08:30:00Z"})
    assert answer["idTagInfo"]["status"] == "Accepted"


def test_a_replayed_stop_changes_nothing(cp, make_tag):
    tx_id = started(cp, make_tag)
    stop = {"transactionId": tx_id, "meterStop": 1200, "timestamp": "2026-11-21T08:30:00Z"}
    cp.call("StopTransaction", stop)
    cp.call("StopTransaction", {**stop, "meterStop": 9999})
    assert Transaction.objects.get(pk=tx_id).meter_stop_wh == 1200


def test_stop_of_an_unknown_transaction_is_accepted_and_kept(cp):
    answer = cp.call("StopTransaction", {
        "transactionId": 424242, "meterStop": 5000, "timestamp": "2026-11-21T09:00:00Z", "reason": "Reboot",
        "transactionData": [{"timestamp": "2026-11-21T09:00:00Z",
                             "sampledValue": [{"value": "5000", "context": "Transaction.End"}]}],
    })
    assert answer == {}
    kept = MeterValue.objects.get(reported_transaction_id=424242)
    assert (kept.transaction, kept.value) == (None, 5000)
    assert JournalEntry.objects.filter(box__serial="CP-1", action="StopTransaction", direction="in",
                                       payload__contains="424242").exists()


def test_unknown_reason_is_a_property_violation(cp, make_tag):
    tx_id = started(cp, make_tag)
    code, _ = cp.call_error("StopTransaction", {"transactionId": tx_id, "meterStop": 1200, "reason": "Tired",
                                                "timestamp": "2026-11-21T08:30:00Z"})
    assert code == "PropertyConstraintViolation"
    assert Transaction.objects.get(pk=tx_id).is_active
