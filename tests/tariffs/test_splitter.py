"""tariffs.splitter against tables computed by hand (DESIGN.md §3): energy split at period
boundaries by linear interpolation of the register, costs rounded half-up per line from the exact
energy, sums of rounded amounts; what a wrong clock or meter reports is left out and flagged."""

from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from tariffs.periods import period_parse, periods_check
from tariffs.splitter import Flag, Pricing, Reading, money, session_cost

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A five-period day, the valley wrapping midnight.
DAY = ["22:00-06:00=0.3+0.4", "06:00-10:00=0.7+0.4", "10:00-15:00=1.1+0.5", "15:00-18:00=0.7+0.4",
       "18:00-22:00=1.1+0.5"]


def pricing(periods=DAY, tz=SHANGHAI, **idle) -> Pricing:
    return Pricing(periods_check([period_parse(p) for p in periods]), tz, **idle)


def at(text: str, day: int = 1) -> datetime:
    hours, minutes = map(int, text.split(":"))
    return datetime(2026, 1, day, hours, minutes, tzinfo=SHANGHAI)


def table(cost) -> list[tuple]:
    return [(f"{line.start.astimezone(SHANGHAI):%d %H:%M}", f"{line.end.astimezone(SHANGHAI):%d %H:%M}",
             line.energy_wh_rounded, str(line.energy_cost), str(line.service_cost)) for line in cost.lines]


def cost_of(start, stop, meter_start, meter_stop, readings=(), prices=None):
    return session_cost(started_at=start, stopped_at=stop, meter_start_wh=meter_start, meter_stop_wh=meter_stop,
                        readings=[Reading(t, Decimal(v)) for t, v in readings], pricing=prices or pricing())


def test_without_readings_the_energy_runs_linearly_from_meter_start_to_meter_stop():
    cost = cost_of(at("09:30"), at("10:30"), 0, 10000)
    assert table(cost) == [("01 09:30", "01 10:00", 5000, "3.50", "2.00"),
                           ("01 10:00", "01 10:30", 5000, "5.50", "2.50")]
    assert (cost.energy, cost.service, cost.idle, cost.total) == (
        Decimal("9.00"), Decimal("4.50"), Decimal("0.00"), Decimal("13.50"))
    assert cost.flags == []


def test_a_boundary_between_two_readings_gets_the_interpolated_register():
    # 21:40 = 5000 and 22:20 = 9000: at 22:00, halfway, the register read 7000.
    cost = cost_of(at("21:00"), at("23:00"), 1000, 10000, [(at("21:40"), 5000), (at("22:20"), 9000)])
    assert table(cost) == [("01 21:00", "01 22:00", 6000, "6.60", "3.00"),
                           ("01 22:00", "01 23:00", 3000, "0.90", "1.20")]
    assert (cost.energy, cost.service, cost.total) == (Decimal("7.50"), Decimal("4.20"), Decimal("11.70"))


def test_a_wrapped_period_is_one_line_across_midnight_and_a_day_boundary_repeats():
    cost = cost_of(at("20:00"), at("08:00", day=2), 0, 12000)
    assert table(cost) == [("01 20:00", "01 22:00", 2000, "2.20", "1.00"),
                           ("01 22:00", "02 06:00", 8000, "2.40", "3.20"),
                           ("02 06:00", "02 08:00", 2000, "1.40", "0.80")]
    assert cost.total == Decimal("11.00")


def test_midnight_is_a_boundary_when_a_period_begins_there():
    prices = pricing(["00:00-08:00=0.2+0.1", "08:00-00:00=1+0.5"])
    cost = cost_of(at("23:00"), at("01:00", day=2), 0, 3000, prices=prices)
    assert table(cost) == [("01 23:00", "02 00:00", 1500, "1.50", "0.75"),
                           ("02 00:00", "02 01:00", 1500, "0.30", "0.15")]


def test_each_line_is_costed_from_its_exact_energy_and_the_sums_add_rounded_amounts():
    # 05:00-08:00 at 1000 Wh: 1000/3 Wh in the valley, 2000/3 after 06:00.
    cost = cost_of(at("05:00"), at("08:00"), 0, 1000)
    assert [line.energy_wh for line in cost.lines] == [Fraction(1000, 3), Fraction(2000, 3)]
    # 0.3333 kWh x 0.3 = 0.1, x 0.4 = 0.1333; 0.6667 kWh x 0.7 = 0.46667, x 0.4 = 0.26667
    assert table(cost) == [("01 05:00", "01 06:00", 333, "0.10", "0.13"),
                           ("01 06:00", "01 08:00", 667, "0.47", "0.27")]
    assert (cost.energy, cost.service, cost.total) == (Decimal("0.57"), Decimal("0.40"), Decimal("0.97"))


def test_halves_round_up_not_to_even():
    # 1.25 kWh x 0.292 = 0.365: half-up 0.37 (banker's rounding would say 0.36).
    cost = cost_of(at("08:00"), at("09:00"), 0, 1250, prices=pricing(["00:00-00:00=0.292+0.0001"]))
    assert table(cost) == [("01 08:00", "01 09:00", 1250, "0.37", "0.00")]
    assert money(Fraction(5, 1000)) == Decimal("0.01") and money(Fraction(4999, 1000000)) == Decimal("0.00")


def test_energy_wh_is_the_exact_energy_rounded_to_the_nearest_wh_halves_up():
    # 1001 Wh over two equal halves: 500.5 Wh each, shown as 501.
    cost = cost_of(at("09:00"), at("11:00"), 0, 1001)
    assert [line.energy_wh for line in cost.lines] == [Fraction(1001, 2)] * 2
    assert [line.energy_wh_rounded for line in cost.lines] == [501, 501]


def test_a_session_within_one_period_is_one_line():
    cost = cost_of(at("11:00"), at("11:45"), 100, 7600, [(at("11:15"), 4000)])
    assert table(cost) == [("01 11:00", "01 11:45", 7500, "8.25", "3.75")]


def test_a_session_of_no_time_prices_its_energy_at_its_start():
    cost = cost_of(at("07:00"), at("07:00"), 0, 1000)
    assert table(cost) == [("01 07:00", "01 07:00", 1000, "0.70", "0.40")]
    assert cost.flags == []


def test_a_stop_before_the_start_prices_all_energy_at_the_start_and_is_flagged():
    cost = cost_of(at("09:00"), at("08:00"), 0, 2000, [(at("08:30"), 1000)])
    assert table(cost) == [("01 09:00", "01 09:00", 2000, "1.40", "0.80")]
    assert Flag.STOP_BEFORE_START in cost.flags


def test_readings_out_of_order_or_outside_the_session_are_left_out_and_flagged():
    readings = [
        (at("08:30"), 3000),
        (at("08:45"), 2000),  # the register cannot run backwards
        (at("09:30"), 20000),  # beyond meterStop
        (at("11:00"), 4000),  # after the stop
        (at("07:00"), 0),  # before the start
    ]
    cost = cost_of(at("08:00"), at("10:30"), 0, 4000, readings)
    # Through (08:00, 0), (08:30, 3000), (10:30, 4000): at 10:00 the register read 3750.
    assert table(cost) == [("01 08:00", "01 10:00", 3750, "2.63", "1.50"),
                           ("01 10:00", "01 10:30", 250, "0.28", "0.13")]
    assert cost.flags == [Flag.READINGS_INCONSISTENT, Flag.READINGS_OUTSIDE]


def test_a_meter_stop_below_meter_start_charges_no_energy_and_is_flagged():
    cost = cost_of(at("08:00"), at("09:00"), 5000, 100)
    assert table(cost) == [("01 08:00", "01 09:00", 0, "0.00", "0.00")]
    assert cost.flags == [Flag.METER_BACKWARDS]


def test_a_session_over_a_month_is_a_clock_mistake_priced_at_its_start():
    cost = cost_of(at("08:00"), at("08:00") + timedelta(days=400), 0, 1000)
    assert table(cost) == [("01 08:00", "01 08:00", 1000, "0.70", "0.40")]
    assert cost.flags == [Flag.SESSION_TOO_LONG]


def test_readings_at_the_start_and_stop_moments_are_meter_start_and_meter_stop():
    cost = cost_of(at("09:00"), at("11:00"), 1000, 3000, [(at("09:00"), 1000), (at("11:00"), 3000)])
    assert table(cost) == [("01 09:00", "01 10:00", 1000, "0.70", "0.40"),
                           ("01 10:00", "01 11:00", 1000, "1.10", "0.50")]
    assert cost.flags == []


class TestIdleFee:
    prices = pricing(idle_fee_per_hour=Decimal("6"), idle_grace_minutes=30)

    def test_charged_per_hour_after_the_grace_from_the_end_of_energy_flow(self):
        # Energy stopped at 09:30 (the first reading at meterStop); stop 11:00: 90 min idle, 60 after grace.
        cost = cost_of(at("08:00"), at("11:00"), 0, 7000, [(at("09:00"), 5000), (at("09:30"), 7000)],
                       prices=self.prices)
        assert (cost.idle, cost.idle_minutes) == (Decimal("6.00"), 60)
        assert cost.total == cost.energy + cost.service + Decimal("6.00")

    def test_a_part_of_an_hour_is_charged_in_proportion(self):
        cost = cost_of(at("08:00"), at("10:17"), 0, 7000, [(at("09:00"), 7000)], prices=self.prices)
        assert (cost.idle, cost.idle_minutes) == (Decimal("4.70"), 47)

    def test_within_the_grace_nothing(self):
        cost = cost_of(at("08:00"), at("09:20"), 0, 7000, [(at("09:00"), 7000)], prices=self.prices)
        assert cost.idle == Decimal("0.00")

    def test_without_a_reading_of_the_final_register_before_the_stop_idling_starts_at_the_stop(self):
        cost = cost_of(at("08:00"), at("12:00"), 0, 7000, [(at("09:00"), 5000)], prices=self.prices)
        assert cost.idle == Decimal("0.00")

    def test_a_tariff_without_idle_fee_charges_none(self):
        cost = cost_of(at("08:00"), at("12:00"), 0, 7000, [(at("09:00"), 7000)])
        assert cost.idle == Decimal("0.00")


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_periods_are_in_the_local_time_given(zone):
    tz = ZoneInfo(zone)
    start = datetime(2026, 7, 1, 5, 0, tzinfo=tz)
    cost = session_cost(started_at=start, stopped_at=start + timedelta(hours=2), meter_start_wh=0,
                        meter_stop_wh=2000, readings=[], pricing=pricing(tz=tz))
    assert [(f"{line.start.astimezone(tz):%H:%M}", line.energy_wh_rounded) for line in cost.lines] == [
        ("05:00", 1000), ("06:00", 1000)]
