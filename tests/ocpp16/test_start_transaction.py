"""StartTransaction (OCPP 1.6 §4.8): the start is recorded whatever the tag, the idTagInfo tells the
box whether to go on, and a retried start gets the id it got the first time."""

from chargers.models import Connector
from transactions.models import Transaction

START = {"connectorId": 1, "idTag": "TAG-1", "meterStart": 1500, "timestamp": "2026-11-21T08:00:00.000Z"}


def test_accepted_start_is_recorded(cp, make_tag):
    make_tag("TAG-1")
    answer = cp.call("StartTransaction", START)
    assert answer["idTagInfo"] == {"status": "Accepted"}
    tx = Transaction.objects.get(pk=answer["transactionId"])
    assert (tx.box.serial, tx.connector.connector_id, tx.id_tag, tx.meter_start_wh) == ("CP-1", 1, "TAG-1", 1500)
    assert tx.started_at.isoformat() == "2026-11-21T08:00:00+00:00"
    assert tx.is_active


def test_a_replay_gets_the_same_transaction_id(cp, make_tag):
    make_tag("TAG-1")
    first = cp.call("StartTransaction", START)
    again = cp.call("StartTransaction", START)  # the box retries with a new message id
    assert again["transactionId"] == first["transactionId"]
    assert Transaction.objects.count() == 1


def test_a_tag_charging_elsewhere_is_concurrent(cp, make_tag):
    make_tag("TAG-1")
    cp.call("StartTransaction", START)
    answer = cp.call("StartTransaction", {**START, "connectorId": 2, "timestamp": "2026-11-21T08:05:00Z"})
    assert answer["idTagInfo"]["status"] == "ConcurrentTx"
    assert Transaction.objects.filter(pk=answer["transactionId"]).exists()


def test_an_unknown_tag_still_gets_its_transaction_recorded(cp):
    answer = cp.call("StartTransaction", {**START, "idTag": "STRANGER"})
    assert answer["idTagInfo"]["status"] == "Invalid"
    assert Transaction.objects.get(pk=answer["transactionId"]).id_tag == "STRANGER"


def test_reservation_id_is_kept(cp, make_tag):
    make_tag("TAG-1")
    answer = cp.call("StartTransaction", {**START, "reservationId": 77})
    assert Transaction.objects.get(pk=answer["transactionId"]).reservation_id == 77


def test_a_connector_the_box_did_not_announce_is_created(cp, make_tag):
    make_tag("TAG-1")
    cp.call("StartTransaction", {**START, "connectorId": 3})
    assert Connector.objects.filter(box__serial="CP-1", connector_id=3).exists()


def test_connector_zero_is_the_box_itself_and_cannot_charge(cp):
    code, description = cp.call_error("StartTransaction", {**START, "connectorId": 0})
    assert code == "PropertyConstraintViolation" and "connector" in description
    assert not Transaction.objects.exists()


def test_missing_timestamp_and_bad_timestamp(cp):
    missing = {key: value for key, value in START.items() if key != "timestamp"}
    assert cp.call_error("StartTransaction", missing)[0] == "OccurenceConstraintViolation"
    assert cp.call_error("StartTransaction", {**START, "timestamp": "yesterday"})[0] == "PropertyConstraintViolation"
    assert cp.call_error("StartTransaction", {**START, "timestamp": "2026-19-45T08:00:00Z"})[0] == \
        "PropertyConstraintViolation"
    assert not Transaction.objects.exists()


def test_meter_start_as_text_is_a_type_violation(cp):
    assert cp.call_error("StartTransaction", {**START, "meterStart": "1500"})[0] == "TypeConstraintViolation"


def test_a_meter_reading_beyond_what_is_stored_is_a_property_violation(cp):
    assert cp.call_error("StartTransaction", {**START, "meterStart": 2**64 - 1})[0] == "PropertyConstraintViolation"
