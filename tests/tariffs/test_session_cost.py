"""The cost stored when a session stops (transactions.services.transaction_stop, every protocol's
one way to stop a session): which tariff, from which meter values, and what a stop does when the
cost cannot be worked out."""

import io
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from tariffs.models import SessionCost
from transactions.models import Transaction
from transactions.services import Sample, meter_values_store, transaction_start, transaction_stop

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 5, 4, 9, 30, tzinfo=SHANGHAI)


def addtariff(*args):
    call_command("addtariff", *args, stdout=io.StringIO())


@pytest.fixture
def box(make_box, make_tag):
    make_tag("CARD")
    box = make_box("BOX-C", station="ST-C")
    addtariff("DAY", "--period", "00:00-10:00=0.5+0.2", "--period", "10:00-24:00=1+0.4", "--station", "ST-C")
    return box


def session(box, *, meter_start=1000, meter_stop=5000, start=T0, stop=T0 + timedelta(hours=1), batches=(),
            stop_samples=(), connector_id=1):
    tx = transaction_start(box=box, connector_id=connector_id, id_tag="CARD", meter_start_wh=meter_start,
                           timestamp=start).transaction
    for batch in batches:
        meter_values_store(box=box, connector_id=connector_id, transaction_id=tx.pk,
                           samples=[Sample(timestamp=at, value=str(wh), unit="Wh") for at, wh in batch])
    transaction_stop(box=box, transaction_id=tx.pk, meter_stop_wh=meter_stop, timestamp=stop,
                     samples=[Sample(timestamp=at, value=str(wh), unit="Wh") for at, wh in stop_samples])
    return tx.pk


def test_a_stop_stores_the_cost_with_its_lines(box):
    tx_id = session(box, batches=[[(T0 + timedelta(minutes=30), 4000)]])
    cost = SessionCost.objects.get(pk=tx_id)
    # 09:30-10:00: 3000 Wh at 0.5+0.2; 10:00-10:30: 1000 Wh at 1+0.4
    assert (cost.tariff_code, cost.currency, cost.energy, cost.service, cost.idle, cost.total) == (
        "DAY", "CNY", Decimal("2.50"), Decimal("1.00"), Decimal("0.00"), Decimal("3.50"))
    assert cost.lines == [
        {"from": "2026-05-04T01:30:00Z", "to": "2026-05-04T02:00:00Z", "energyWh": 3000, "energyPrice": "0.5000",
         "servicePrice": "0.2000", "energyCost": "1.50", "serviceCost": "0.60", "energyWhExact": "3000"},
        {"from": "2026-05-04T02:00:00Z", "to": "2026-05-04T02:30:00Z", "energyWh": 1000, "energyPrice": "1.0000",
         "servicePrice": "0.4000", "energyCost": "1.00", "serviceCost": "0.40", "energyWhExact": "1000"},
    ]
    assert cost.flags == [] and cost.box_reported is None


def test_the_stop_s_own_transaction_data_is_used(box):
    tx_id = session(box, stop_samples=[(T0 + timedelta(minutes=30), 4000), (T0 + timedelta(hours=1), 5000)])
    assert SessionCost.objects.get(pk=tx_id).total == Decimal("3.50")


def test_a_session_without_meter_values_is_costed_from_meter_start_and_stop(box):
    tx_id = session(box)  # 4000 Wh over 09:30-10:30: half before 10:00
    cost = SessionCost.objects.get(pk=tx_id)
    assert [line["energyWh"] for line in cost.lines] == [2000, 2000]
    assert cost.total == Decimal("1.40") + Decimal("2.80")


def test_the_cost_does_not_depend_on_how_the_meter_values_were_batched(box, make_box):
    twin = make_box("BOX-C2", station="ST-C")
    readings = [(T0 + timedelta(minutes=m), 1000 + 60 * m + (m * m) % 11) for m in range(5, 60, 5)]
    one = session(box, batches=[readings])
    # The same readings in other messages, out of order, some sent twice (replays).
    several = session(twin, batches=[readings[6:], readings[:3], readings[3:6], readings[:2]])
    a, b = SessionCost.objects.get(pk=one), SessionCost.objects.get(pk=several)
    assert (a.total, a.lines) == (b.total, b.lines)
    assert len(a.lines) == 2 and a.flags == []


def test_the_station_s_tariff_before_the_default_and_the_default_for_stations_without_one(box, make_box):
    addtariff("FLAT", "--period", "00:00-00:00=2+0", "--default")
    other = make_box("BOX-D", station="ST-D")
    own = session(box)
    by_default = session(other)
    assert SessionCost.objects.get(pk=own).tariff_code == "DAY"
    assert (SessionCost.objects.get(pk=by_default).tariff_code, SessionCost.objects.get(pk=by_default).total) == (
        "FLAT", Decimal("8.00"))


def test_without_any_tariff_a_session_has_no_cost(make_box, make_tag):
    make_tag("CARD")
    tx_id = session(make_box("BOX-E"))
    assert Transaction.objects.get(pk=tx_id).energy_wh == 4000
    assert not SessionCost.objects.filter(pk=tx_id).exists()


def test_a_tariff_takes_effect_for_sessions_that_start_after_it(box):
    addtariff("NEXT", "--period", "00:00-00:00=3+0", "--station", "ST-C", "--valid-from",
              (T0 + timedelta(hours=2)).isoformat())
    before = session(box)
    after = session(box, start=T0 + timedelta(hours=3), stop=T0 + timedelta(hours=4))
    assert SessionCost.objects.get(pk=before).tariff_code == "DAY"
    assert SessionCost.objects.get(pk=after).tariff_code == "NEXT"


def test_a_box_clock_far_off_is_costed_from_what_is_consistent_and_flagged(box):
    tx_id = session(box, stop=T0 - timedelta(days=3), batches=[[(T0 + timedelta(minutes=10), 2000)]])
    cost = SessionCost.objects.get(pk=tx_id)
    assert cost.flags == ["readings_outside_session", "stop_before_start"]
    assert cost.lines[0]["energyWh"] == 4000 and cost.total == Decimal("2.80")  # all at 09:30's price
    assert "the stop is before the start: all energy priced at the start" in cost.flag_labels


def test_a_replayed_stop_keeps_the_cost(box):
    tx_id = session(box)
    box_row = Transaction.objects.get(pk=tx_id).box
    transaction_stop(box=box_row, transaction_id=tx_id, meter_stop_wh=9999, timestamp=T0 + timedelta(hours=5))
    assert SessionCost.objects.get(pk=tx_id).total == Decimal("4.20")


def test_a_stop_is_kept_even_when_its_cost_cannot_be_worked_out(box, monkeypatch):
    import transactions.costing

    def broken(**kwargs):
        raise RuntimeError("tariff store unreachable")

    monkeypatch.setattr(transactions.costing, "session_cost_store", broken)
    tx_id = session(box)
    assert Transaction.objects.get(pk=tx_id).stopped_at is not None
    assert not SessionCost.objects.filter(pk=tx_id).exists()
