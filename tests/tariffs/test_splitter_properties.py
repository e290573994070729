"""Properties of tariffs.splitter that no table can cover: the lines' energy always adds up to the
session's energy, exactly; the lines tile the session; the amounts are the rounded products; and
the cost never depends on how (or in what order, or how often) the readings were reported."""

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tariffs.periods import DAY_MINUTES, Period, periods_check
from tariffs.splitter import Pricing, Reading, money, session_cost

ZONES = [ZoneInfo("Asia/Shanghai"), ZoneInfo("UTC"), ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")]
prices = st.decimals(min_value=0, max_value=10, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def tariffs(draw) -> Pricing:
    """1 to 6 periods cutting the day at whole minutes; rotated, so that one may wrap midnight."""
    cuts = sorted(draw(st.sets(st.integers(0, DAY_MINUTES - 1), min_size=1, max_size=6)))
    periods = [Period(cut, cuts[(i + 1) % len(cuts)], draw(prices), draw(prices)) for i, cut in enumerate(cuts)]
    return Pricing(periods_check(periods), draw(st.sampled_from(ZONES)),
                   idle_fee_per_hour=draw(st.none() | prices), idle_grace_minutes=draw(st.integers(0, 120)))


@st.composite
def sessions(draw) -> dict:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 366 * 86400)),
                                                         microseconds=draw(st.integers(0, 999999)))
    seconds = draw(st.integers(0, 3 * 86400))
    meter_start = draw(st.integers(0, 10**9))
    steps = draw(st.dictionaries(st.integers(1, max(seconds - 1, 1)),
                                 st.decimals(min_value=0, max_value=20000, places=3), max_size=12))
    readings, register = [], Decimal(meter_start)
    for offset, increase in sorted(steps.items()):
        if offset >= seconds:
            continue
        register += increase
        readings.append(Reading(start + timedelta(seconds=offset), register))
    meter_stop = math.ceil(register) + draw(st.integers(0, 5000))
    return {"started_at": start, "stopped_at": start + timedelta(seconds=seconds), "meter_start_wh": meter_start,
            "meter_stop_wh": meter_stop, "readings": readings}


@settings(max_examples=300, deadline=None)
@given(session=sessions(), pricing=tariffs())
def test_the_lines_energy_sums_to_the_session_energy_and_tiles_the_session(session, pricing):
    cost = session_cost(**session, pricing=pricing)
    assert sum((line.energy_wh for line in cost.lines), Fraction(0)) == \
        session["meter_stop_wh"] - session["meter_start_wh"]
    assert cost.lines[0].start == session["started_at"] and cost.lines[-1].end == session["stopped_at"]
    assert all(a.end == b.start for a, b in zip(cost.lines, cost.lines[1:]))
    assert all(line.energy_wh >= 0 for line in cost.lines)
    for line in cost.lines:
        assert line.energy_cost == money(line.energy_wh / 1000 * Fraction(line.energy_price))
        assert line.service_cost == money(line.energy_wh / 1000 * Fraction(line.service_price))
    assert cost.energy == sum(line.energy_cost for line in cost.lines)
    assert cost.service == sum(line.service_cost for line in cost.lines)
    assert cost.total == cost.energy + cost.service + cost.idle
    assert cost.flags == []


@settings(max_examples=200, deadline=None)
@given(session=sessions(), pricing=tariffs(), data=st.data())
def test_the_cost_never_depends_on_how_the_readings_were_batched(session, pricing, data):
    readings = session["readings"]
    # Reported in batches of any size, in any order, some of them twice (a replayed MeterValues).
    shuffled = data.draw(st.permutations(readings))
    replayed = data.draw(st.lists(st.sampled_from(readings), max_size=4)) if readings else []
    cuts = sorted(data.draw(st.lists(st.integers(0, len(shuffled)), max_size=4)))
    batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)])]
    rebatched = [reading for batch in reversed(batches) for reading in batch] + replayed
    assert session_cost(**{**session, "readings": rebatched}, pricing=pricing) == \
        session_cost(**session, pricing=pricing)


@settings(max_examples=200, deadline=None)
@given(session=sessions(), pricing=tariffs(), data=st.data())
def test_a_reading_on_the_interpolated_line_changes_nothing(session, pricing, data):
    """Linear interpolation: a reading that says what was interpolated anyway adds no information."""
    points = [(session["started_at"], Fraction(session["meter_start_wh"]))] + \
        [(r.at, Fraction(r.wh)) for r in session["readings"]] + \
        [(session["stopped_at"], Fraction(session["meter_stop_wh"]))]
    i = data.draw(st.integers(0, len(points) - 2))
    (t0, v0), (t1, v1) = points[i], points[i + 1]
    if (t1 - t0) < timedelta(seconds=2):
        return
    middle = t0 + (t1 - t0) / 2
    micro = timedelta(microseconds=1)
    value = v0 + (v1 - v0) * Fraction((middle - t0) // micro, (t1 - t0) // micro)
    reading = Reading(middle, Decimal(value.numerator) / value.denominator)
    added = {**session, "readings": [*session["readings"], reading]}
    if Fraction(added["readings"][-1].wh) != value:
        return  # not a terminating decimal: no box could report it
    assert session_cost(**added, pricing=pricing) == session_cost(**session, pricing=pricing)
