"""The session rules of transactions.services that the protocol tests reach only now and then:
a start over a session whose stop was lost, a late report of an older session, stops that are
replays or name no session, and what authorization a start and a stop answer."""

from datetime import datetime, timedelta, timezone

from transactions.models import MeterValue, Transaction
from transactions.services import Sample, transaction_start, transaction_stop

T = datetime(2026, 1, 1, 8, tzinfo=timezone.utc)


def start(box, tag="TAG1", at=T, connector_id=1, meter=1000):
    return transaction_start(box=box, connector_id=connector_id, id_tag=tag, meter_start_wh=meter, timestamp=at)


def test_a_start_over_a_session_whose_stop_was_lost_closes_that_session(make_box, make_tag):
    box = make_box("CB1")
    make_tag("TAG1"), make_tag("TAG2")
    first = start(box, "TAG1").transaction
    second = start(box, "TAG2", at=T + timedelta(hours=1))
    first.refresh_from_db()
    assert (first.stopped_at, first.stop_reason) == (T + timedelta(hours=1), "Other")
    assert second.transaction.stopped_at is None and second.id_tag_info.status == "Accepted"


def test_a_late_report_of_an_older_session_is_kept_closed_behind_the_open_one(make_box, make_tag):
    box = make_box("CB2")
    make_tag("TAG1"), make_tag("TAG2")
    current = start(box, "TAG1", at=T).transaction
    older = start(box, "TAG2", at=T - timedelta(hours=2)).transaction
    current.refresh_from_db()
    assert current.stopped_at is None
    assert (older.started_at, older.stopped_at, older.stop_reason) == (T - timedelta(hours=2), T, "Other")


def test_a_replayed_start_gets_its_session_and_a_tag_charging_elsewhere_is_concurrent(make_box, make_tag):
    box = make_box("CB3")
    make_tag("TAG1")
    first = start(box, "TAG1")
    assert start(box, "TAG1").transaction.pk == first.transaction.pk
    elsewhere = start(box, "TAG1", connector_id=2, at=T + timedelta(minutes=5))
    assert elsewhere.id_tag_info.status == "ConcurrentTx"
    assert Transaction.objects.filter(box=box).count() == 2


def test_a_stop_closes_the_session_with_its_energy_and_its_connector_s_meter_values(make_box, make_tag):
    box = make_box("CB4")
    make_tag("TAG1")
    tx = start(box, "TAG1", connector_id=2, meter=1000).transaction
    sample = Sample(timestamp=T + timedelta(hours=1), value="4500", unit="Wh", context="Transaction.End")
    result = transaction_stop(box=box, transaction_id=tx.pk, meter_stop_wh=4500, timestamp=T + timedelta(hours=1),
                              reason="EVDisconnected", samples=[sample])
    assert (result.transaction.energy_wh, result.transaction.stop_reason) == (3500, "EVDisconnected")
    assert result.id_tag_info.status == "Accepted"
    stored = MeterValue.objects.get(transaction=tx)
    assert (stored.connector_id, stored.value) == (2, 4500)

    # A replay of the stop changes nothing and is answered all the same.
    again = transaction_stop(box=box, transaction_id=tx.pk, meter_stop_wh=9999, timestamp=T + timedelta(hours=2))
    assert (again.transaction.meter_stop_wh, again.transaction.stopped_at) == (4500, T + timedelta(hours=1))
    assert MeterValue.objects.filter(transaction=tx).count() == 1


def test_a_stop_of_a_session_never_recorded_keeps_its_values_unlinked(make_box):
    box = make_box("CB5")
    sample = Sample(timestamp=T, value="100", unit="Wh")
    result = transaction_stop(box=box, transaction_id=424242, meter_stop_wh=100, timestamp=T, samples=[sample])
    assert (result.transaction, result.id_tag_info) == (None, None)
    stored = MeterValue.objects.get(reported_transaction_id=424242)
    assert (stored.transaction_id, stored.connector_id) == (None, 0)


def test_a_stop_of_another_box_s_session_leaves_it_open(make_box, make_tag):
    mine, other = make_box("CB6"), make_box("CB7")
    make_tag("TAG1")
    tx = start(mine, "TAG1").transaction
    result = transaction_stop(box=other, transaction_id=tx.pk, meter_stop_wh=5000, timestamp=T + timedelta(hours=1))
    assert result.transaction is None
    tx.refresh_from_db()
    assert tx.stopped_at is None
