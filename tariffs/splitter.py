"""A session's energy split at a tariff's period boundaries, and priced (DESIGN.md §3).

Pure: no ORM, no settings. The energy register is interpolated linearly between consecutive
readings, meterStart at the start time and meterStop at the stop time being readings too. All
arithmetic is exact (Fraction); rounding happens once per amount: a line's energy and service
cost half-up to 0.01 from its exact energy, and the session's sums add rounded amounts.

What a box's clock or meter gets wrong is left out rather than guessed at, and flagged:
readings outside the session's time, readings that would make the register run backwards or past
meterStop, a stop before the start (all energy is then priced at the start), a meterStop below
meterStart (no energy), a session longer than SESSION_MAX (priced at its start, like a stop
before the start)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from tariffs.periods import Period, period_at

CENT = Decimal("0.01")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_HOUR_US = 3600 * 1_000_000
# Longer than this, a session's times are a clock's mistake, not a car parked for a month.
SESSION_MAX = timedelta(days=31)


class Flag(StrEnum):
    """Why a session's cost was worked out from part of what the box reported."""

    STOP_BEFORE_START = "stop_before_start"
    METER_BACKWARDS = "meter_stop_below_start"
    READINGS_OUTSIDE = "readings_outside_session"
    READINGS_INCONSISTENT = "readings_inconsistent"
    SESSION_TOO_LONG = "session_too_long"


@dataclass(frozen=True)
class Reading:
    """The energy register (Wh) at a moment."""

    at: datetime
    wh: Decimal | int


@dataclass(frozen=True)
class Pricing:
    """What the splitter needs of a tariff."""

    periods: list[Period]  # checked by periods.periods_check
    tz: tzinfo  # the periods are in this local time
    idle_fee_per_hour: Decimal | None = None
    idle_grace_minutes: int = 0


@dataclass(frozen=True)
class Line:
    start: datetime
    end: datetime
    energy_wh: Fraction  # exact
    energy_price: Decimal
    service_price: Decimal
    energy_cost: Decimal
    service_cost: Decimal

    @property
    def energy_wh_rounded(self) -> int:
        return half_up(self.energy_wh)


@dataclass(frozen=True)
class Cost:
    lines: list[Line]
    energy: Decimal
    service: Decimal
    idle: Decimal
    idle_minutes: Fraction  # chargeable idle time, after the grace
    flags: list[Flag]

    @property
    def total(self) -> Decimal:
        return self.energy + self.service + self.idle

    @property
    def energy_wh(self) -> Fraction:
        return sum((line.energy_wh for line in self.lines), Fraction(0))


def half_up(value: Fraction) -> int:
    """Rounded to the nearest integer, halves away from zero."""
    magnitude = (abs(value) * 2 + 1) // 2
    return int(magnitude if value >= 0 else -magnitude)


def money(value: Fraction) -> Decimal:
    """An exact amount rounded half-up to 0.01."""
    return (Decimal(half_up(value * 100)) * CENT).quantize(CENT)


def _us(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


def _register(start_us: int, stop_us: int, meter_start: Fraction, meter_stop: Fraction,
              readings: list[Reading], flags: set[Flag]) -> list[tuple[int, Fraction]]:
    """The points the register is interpolated through: (start, meterStart), the consistent
    readings strictly inside the session in time order, (stop, meterStop). A reading is
    consistent when it keeps the register between meterStart and meterStop and never running
    backwards. Sorting on (time, value) first makes the result independent of the readings'
    order and batching; of two readings at one moment the lower is kept."""
    points = [(start_us, meter_start)]
    for at_us, wh in sorted((_us(r.at), Fraction(r.wh)) for r in readings):
        if at_us in (start_us, stop_us):
            continue  # meterStart/meterStop are the readings at those moments (Transaction.Begin/End)
        if not start_us < at_us < stop_us:
            flags.add(Flag.READINGS_OUTSIDE)
            continue
        last_us, last_wh = points[-1]
        if wh < last_wh or wh > meter_stop or (at_us == last_us and wh != last_wh):
            flags.add(Flag.READINGS_INCONSISTENT)
            continue
        if at_us != last_us:
            points.append((at_us, wh))
    points.append((stop_us, meter_stop))
    return points


def _energy_at(points: list[tuple[int, Fraction]], times: list[int], at_us: int) -> Fraction:
    """The register at ``at_us`` by linear interpolation between the points around it."""
    i = bisect_right(times, at_us) - 1
    if i >= len(points) - 1:
        return points[-1][1]
    (t0, v0), (t1, v1) = points[i], points[i + 1]
    return v0 + (v1 - v0) * Fraction(at_us - t0, t1 - t0)


def _boundaries(start: datetime, stop: datetime, pricing: Pricing) -> list[datetime]:
    """Every moment strictly between start and stop at which a period begins, in local time.
    Midnight is a boundary only when a period begins there: a wrapped period (22:00-06:00) is
    one line across it."""
    first = start.astimezone(pricing.tz).date() - timedelta(days=1)
    last = stop.astimezone(pricing.tz).date() + timedelta(days=1)
    found = set()
    day = first
    while day <= last:
        for period in pricing.periods:
            local = datetime.combine(day, time(period.start // 60, period.start % 60), tzinfo=pricing.tz)
            moment = local.astimezone(UTC)
            if start < moment < stop:
                found.add(moment)
        day += timedelta(days=1)
    return sorted(found)


def _minute_of_day(at: datetime, tz: tzinfo) -> int:
    local = at.astimezone(tz)
    return local.hour * 60 + local.minute


def session_cost(*, started_at: datetime, stopped_at: datetime, meter_start_wh: int | Decimal,
                 meter_stop_wh: int | Decimal, readings: list[Reading], pricing: Pricing) -> Cost:
    """The cost of a session, line by line (DESIGN.md §3). Never raises on what a box reported."""
    flags: set[Flag] = set()
    meter_start, meter_stop = Fraction(meter_start_wh), Fraction(meter_stop_wh)
    if meter_stop < meter_start:
        flags.add(Flag.METER_BACKWARDS)
        meter_stop = meter_start  # a replaced or reset meter: no energy can be told
    if stopped_at < started_at:
        flags.add(Flag.STOP_BEFORE_START)
    elif stopped_at - started_at > SESSION_MAX:
        flags.add(Flag.SESSION_TOO_LONG)
    if flags & {Flag.STOP_BEFORE_START, Flag.SESSION_TOO_LONG}:
        # No moment of the session but its start can be trusted; and one period line per day of a
        # clock off by years would be tens of thousands of lines.
        stopped_at = started_at
    start_us, stop_us = _us(started_at), _us(stopped_at)
    points = _register(start_us, stop_us, meter_start, meter_stop, readings, flags)
    if stop_us == start_us:
        points = [points[0], (stop_us, meter_stop)]
    times = [t for t, _ in points]

    edges = [started_at, *_boundaries(started_at, stopped_at, pricing), stopped_at]
    lines = []
    for begin, end in zip(edges, edges[1:]):
        if stop_us == start_us:
            energy = meter_stop - meter_start
        else:
            energy = _energy_at(points, times, _us(end)) - _energy_at(points, times, _us(begin))
        period = period_at(pricing.periods, _minute_of_day(begin, pricing.tz))
        kwh = energy / 1000
        lines.append(Line(
            start=begin, end=end, energy_wh=energy,
            energy_price=period.energy_price, service_price=period.service_price,
            energy_cost=money(kwh * Fraction(period.energy_price)),
            service_cost=money(kwh * Fraction(period.service_price)),
        ))

    idle_minutes = Fraction(0)
    idle = Decimal("0.00")
    if pricing.idle_fee_per_hour:
        # Energy stopped flowing at the first point that shows the final reading; without such a
        # reading before the stop, idling starts at the stop (nothing to charge).
        flow_end_us = next(t for t, wh in points if wh == meter_stop)
        chargeable_us = max(0, stop_us - flow_end_us - pricing.idle_grace_minutes * 60 * 1_000_000)
        idle_minutes = Fraction(chargeable_us, 60 * 1_000_000)
        idle = money(Fraction(chargeable_us, _HOUR_US) * Fraction(pricing.idle_fee_per_hour))

    return Cost(
        lines=lines,
        energy=sum((line.energy_cost for line in lines), Decimal("0.00")),
        service=sum((line.service_cost for line in lines), Decimal("0.00")),
        idle=idle,
        idle_minutes=idle_minutes,
        flags=sorted(flags),
    )
