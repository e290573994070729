"""A tariff's time-of-use periods and prices as plain values, and the rules they must keep: the
periods cover the day once (no overlap, no gap), one may wrap midnight, prices are non-negative
with at most 4 decimals (DESIGN.md §3). No ORM: the CLI, the API, the admin and the splitter
share these."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from core.errors import DomainError

DAY_MINUTES = 24 * 60
PRICE_DECIMALS = 4
# Matches the model's DecimalField(max_digits=10, decimal_places=4).
PRICE_MAX = Decimal("999999.9999")

_PERIOD = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*=\s*([^+\s]+)\s*\+\s*(\S+)\s*$")


@dataclass(frozen=True)
class Period:
    """Minutes of the local day: [start, end), wrapping midnight when end <= start (00:00-00:00 is
    the whole day). Prices are per kWh in the tariff's currency."""

    start: int
    end: int
    energy_price: Decimal
    service_price: Decimal

    @property
    def minutes(self) -> int:
        return (self.end - self.start) % DAY_MINUTES or DAY_MINUTES

    def covers(self, minute: int) -> bool:
        return (minute - self.start) % DAY_MINUTES < self.minutes

    @property
    def label(self) -> str:
        return f"{clock(self.start)}-{clock(self.end)}"


def clock(minute: int) -> str:
    return f"{minute // 60 % 24:02d}:{minute % 60:02d}"


def minute_parse(text: str, *, field: str, end: bool = False) -> int:
    """'HH:MM' as a minute of the day; '24:00' only as the end of a period."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text or "")
    if not match:
        raise DomainError(f"{text!r} is not a time HH:MM", field=field)
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not end)):
        raise DomainError(f"{text!r} is not a time of day (00:00 to 23:59{', or 24:00 as an end' if end else ''})",
                          field=field)
    return (hours * 60 + minutes) % DAY_MINUTES


def price_parse(value, *, field: str) -> Decimal:
    """A price per kWh (or per hour): a number >= 0 with at most 4 decimals, never a float's
    approximation."""
    if isinstance(value, float):
        value = repr(value)  # what was typed, not the binary fraction
    try:
        price = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DomainError(f"{value!r} is not a number", field=field) from None
    if not price.is_finite():
        raise DomainError(f"{value!r} is not a number", field=field)
    if price < 0:
        raise DomainError(f"{value} is negative; prices are 0 or more", field=field)
    if price.as_tuple().exponent < -PRICE_DECIMALS and price != price.quantize(Decimal(1).scaleb(-PRICE_DECIMALS)):
        raise DomainError(f"{value} has more than {PRICE_DECIMALS} decimals", field=field)
    if price > PRICE_MAX:
        raise DomainError(f"{value} is more than {PRICE_MAX}", field=field)
    return price.quantize(Decimal(1).scaleb(-PRICE_DECIMALS))


def period_parse(text: str, *, field: str = "period") -> Period:
    """The CLI's 'HH:MM-HH:MM=ENERGY+SERVICE' (DESIGN.md §3)."""
    match = _PERIOD.match(text or "")
    if not match:
        raise DomainError(f"{text!r} is not HH:MM-HH:MM=ENERGY+SERVICE (e.g. 22:00-06:00=0.3+0.4)", field=field)
    start = minute_parse(f"{match[1]}:{match[2]}", field=field)
    end = minute_parse(f"{match[3]}:{match[4]}", field=field, end=True)
    prices = []
    for kind, value in (("energy", match[5]), ("service", match[6])):
        try:
            prices.append(price_parse(value, field=field))
        except DomainError as exc:
            raise DomainError(f"{text.strip()}: the {kind} price {exc.message}", field=field) from None
    return Period(start, end, *prices)


def periods_check(periods: list[Period], *, field: str = "periods") -> list[Period]:
    """The periods in the order of the day, if they cover every minute exactly once; DomainError
    naming the first overlap or gap otherwise."""
    if not periods:
        raise DomainError("a tariff needs at least one period", field=field)
    owner: list[Period | None] = [None] * DAY_MINUTES
    for period in periods:
        if period.start == period.end and len(periods) > 1:
            raise DomainError(f"{period.label} is the whole day, so it cannot share the day with other periods",
                              field=field)
        for step in range(period.minutes):
            minute = (period.start + step) % DAY_MINUTES
            if owner[minute] is not None:
                raise DomainError(f"{period.label} overlaps {owner[minute].label} (at {clock(minute)})", field=field)
            owner[minute] = period
    if None in owner:
        first = owner.index(None)
        last = first
        while last + 1 < DAY_MINUTES and owner[last + 1] is None:
            last += 1
        raise DomainError(f"no period covers {clock(first)}-{clock(last + 1)}: the periods must cover the whole day",
                          field=field)
    return sorted(periods, key=lambda p: p.start)


def period_at(periods: list[Period], minute: int) -> Period:
    """The period covering ``minute`` of the day (the periods passed periods_check)."""
    for period in periods:
        if period.covers(minute):
            return period
    raise ValueError(f"no period covers minute {minute}")  # periods_check makes this unreachable
