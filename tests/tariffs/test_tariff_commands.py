"""manage.py addtariff (DESIGN.md §3) and recomputecost: what they store, and errors that name the
option at fault."""

import io
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tariffs.models import SessionCost, Tariff
from transactions.services import Sample, meter_values_store, transaction_start, transaction_stop

SHANGHAI = ZoneInfo("Asia/Shanghai")


def addtariff(*args) -> str:
    out = io.StringIO()
    call_command("addtariff", *args, stdout=out)
    return out.getvalue().strip()


def error_of(*args) -> str:
    with pytest.raises(CommandError) as raised:
        addtariff(*args)
    return str(raised.value)


@pytest.fixture
def stations(make_box):
    make_box("BOX-A", station="ST-A")
    make_box("BOX-B", station="ST-B")


def test_addtariff_stores_periods_prices_stations_and_idle_fee(stations):
    said = addtariff("TOU-1", "--period", "22:00-06:00=0.3+0.4", "--period", "06:00-22:00=0.85+0.4",
                     "--station", "ST-A", "--station", "ST-B", "--currency", "CNY", "--idle-fee", "6.5",
                     "--idle-grace", "30")
    assert said == "created tariff TOU-1: 2 periods in CNY, ST-A, ST-B"
    tariff = Tariff.objects.get(code="TOU-1")
    assert [(p.start, p.end, p.energy_price, p.service_price) for p in tariff.periods.all()] == [
        (time(6), time(22), Decimal("0.8500"), Decimal("0.4000")),
        (time(22), time(6), Decimal("0.3000"), Decimal("0.4000")),
    ]
    assert sorted(tariff.stations.values_list("code", flat=True)) == ["ST-A", "ST-B"]
    assert (tariff.idle_fee_per_hour, tariff.idle_grace_minutes, tariff.is_default) == (Decimal("6.5"), 30, False)


def test_addtariff_replaces_a_tariff_of_the_same_code_whole(stations):
    addtariff("T", "--period", "00:00-00:00=1+0.5", "--station", "ST-A", "--idle-fee", "3")
    said = addtariff("T", "--period", "00:00-12:00=0.5+0.5", "--period", "12:00-24:00=0.7+0.5", "--default")
    assert said == "replaced tariff T: 2 periods in CNY, no station, default"
    tariff = Tariff.objects.get(code="T")
    assert tariff.periods.count() == 2 and not tariff.stations.exists() and tariff.idle_fee_per_hour is None


def test_a_station_and_the_default_have_one_tariff_at_a_time(stations):
    addtariff("OLD", "--period", "00:00-00:00=1+0.5", "--station", "ST-A", "--default")
    addtariff("NEW", "--period", "00:00-00:00=0.9+0.5", "--station", "ST-A", "--default")
    old = Tariff.objects.get(code="OLD")
    assert not old.stations.exists() and not old.is_default


def test_a_tariff_valid_from_a_date_applies_to_sessions_that_start_from_then(stations):
    from tariffs.services import tariff_for

    station_id = Tariff._meta.get_field("stations").related_model.objects.get(code="ST-A").pk
    addtariff("JAN", "--period", "00:00-00:00=1+0.5", "--station", "ST-A")
    addtariff("FEB", "--period", "00:00-00:00=0.9+0.5", "--station", "ST-A", "--valid-from", "2026-02-01")
    assert tariff_for(station_id=station_id, at=datetime(2026, 1, 31, 23, 59, tzinfo=SHANGHAI)).code == "JAN"
    assert tariff_for(station_id=station_id, at=datetime(2026, 2, 1, 0, 0, tzinfo=SHANGHAI)).code == "FEB"


@pytest.mark.parametrize(("args", "expected"), [
    (["--period", "00:00-12:00=1+0.5", "--period", "11:00-24:00=1+0.5"],
     "--period: 11:00-00:00 overlaps 00:00-12:00 (at 11:00)"),
    (["--period", "00:00-12:00=1+0.5", "--period", "13:00-24:00=1+0.5"],
     "--period: no period covers 12:00-13:00: the periods must cover the whole day"),
    (["--period", "00:00-00:00=1.12345+0.5"],
     "--period: 00:00-00:00=1.12345+0.5: the energy price 1.12345 has more than 4 decimals"),
    (["--period", "00:00-00:00=1+-0.5"],
     "--period: 00:00-00:00=1+-0.5: the service price -0.5 is negative; prices are 0 or more"),
    (["--period", "25:00-00:00=1+0.5"], "--period: '25:00' is not a time of day (00:00 to 23:59)"),
    (["--period", "00:00-00:00=1"], "--period: '00:00-00:00=1' is not HH:MM-HH:MM=ENERGY+SERVICE"),
    (["--period", "00:00-00:00=1+0.5", "--station", "NOWHERE"], "--station: there is no station 'NOWHERE'"),
    (["--period", "00:00-00:00=1+0.5", "--currency", "yuan"], "--currency: 'yuan' is not a currency code"),
    (["--period", "00:00-00:00=1+0.5", "--idle-fee", "-1"], "--idle-fee: -1 is negative; prices are 0 or more"),
    (["--period", "00:00-00:00=1+0.5", "--idle-grace", "10"], "--idle-grace: only with --idle-fee"),
    ([], "--period: at least one"),
])
def test_addtariff_refuses_bad_input_naming_the_option(stations, args, expected):
    assert error_of("BAD", *args).startswith(expected)
    assert not Tariff.objects.filter(code="BAD").exists()


def test_recomputecost_reprices_a_date_range_and_says_what_changed(make_box, make_tag):
    box = make_box("BOX-R", station="ST-R")
    make_tag("CARD")
    addtariff("R", "--period", "00:00-00:00=1+0.5", "--station", "ST-R")
    started = datetime(2026, 3, 1, 9, tzinfo=SHANGHAI)
    tx = transaction_start(box=box, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=started).transaction
    meter_values_store(box=box, connector_id=1, transaction_id=tx.pk,
                       samples=[Sample(timestamp=started.replace(hour=10), value="2.5", unit="kWh")])
    transaction_stop(box=box, transaction_id=tx.pk, meter_stop_wh=3000, timestamp=started.replace(hour=11))
    assert SessionCost.objects.get(pk=tx.pk).total == Decimal("4.50")

    # A correction: the morning was cheaper.
    addtariff("R", "--period", "00:00-10:00=0.5+0.5", "--period", "10:00-24:00=1+0.5", "--station", "ST-R")
    out = io.StringIO()
    call_command("recomputecost", "--from", "2026-03-01", "--to", "2026-03-01", stdout=out)
    # 2500 Wh before 10:00 at 1.0, 500 after at 1.5: 2.50 + 0.75
    assert out.getvalue().splitlines() == [f"#{tx.pk}: 4.50 CNY (R) -> 3.25 CNY (R)",
                                           "1 sessions recomputed, 1 changed"]
    assert SessionCost.objects.get(pk=tx.pk).total == Decimal("3.25")

    out = io.StringIO()
    call_command("recomputecost", "--from", "2026-03-02", "--to", "2026-03-31", stdout=out)
    assert out.getvalue().strip() == "0 sessions recomputed, 0 changed"
