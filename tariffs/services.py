"""Tariffs and session costs. Called by transactions (at every stop) and by the tariff editors
(CLI, API, admin): so this package imports neither transactions nor chargers (chargers reaches
transactions, and the package graph would get a cycle); stations are reached through the
Tariff.stations relation, sessions are handed in as plain values."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q

from core.errors import DomainError
from security.audit import audit_record
from tariffs.models import BOX_COST_DIFFERS, CURRENCY, TARIFF_CODE, SessionCost, Tariff, TariffPeriod
from tariffs.periods import Period, periods_check, price_parse
from tariffs.signals import tariff_changed
from tariffs.splitter import Cost, Pricing, Reading, session_cost

def _station_model():
    return Tariff._meta.get_field("stations").related_model


def stations_by_code(*, codes: list[str], field: str = "stations") -> list:
    """The stations with these codes; DomainError naming the first unknown one."""
    found = {s.code: s for s in _station_model().objects.filter(code__in=codes)}
    for code in codes:
        if code not in found:
            raise DomainError(f"there is no station {code!r}", field=field)
    return [found[code] for code in dict.fromkeys(codes)]


@dataclass(frozen=True)
class TariffInput:
    """A whole tariff as an editor states it; checked by tariff_check."""

    code: str
    periods: list[Period]
    currency: str = "CNY"
    name: str = ""
    valid_from: datetime | None = None
    station_codes: tuple[str, ...] = ()
    is_default: bool = False
    idle_fee_per_hour: Decimal | None = None
    idle_grace_minutes: int = 0


def tariff_check(*, data: TariffInput) -> list[Period]:
    """DomainError naming the field for anything a tariff may not be; the periods in day order."""
    try:
        TARIFF_CODE(data.code)
    except ValidationError:
        raise DomainError(f"{data.code!r}: a code is {TARIFF_CODE.message}", field="code") from None
    try:
        CURRENCY(data.currency)
    except ValidationError:
        raise DomainError(f"{data.currency!r} is not a currency code of three capital letters (CNY)",
                          field="currency") from None
    if data.idle_fee_per_hour is not None:
        price_parse(data.idle_fee_per_hour, field="idleFeePerHour")
    if data.idle_grace_minutes < 0:
        raise DomainError("the grace is 0 minutes or more", field="idleGraceMinutes")
    if data.valid_from is not None and data.valid_from.tzinfo is None:
        raise DomainError("a moment with its time zone", field="validFrom")
    for n, period in enumerate(data.periods):
        price_parse(period.energy_price, field=f"periods[{n}].energyPrice")
        price_parse(period.service_price, field=f"periods[{n}].servicePrice")
    return periods_check(data.periods)


def tariff_save(*, data: TariffInput) -> tuple[Tariff, bool]:
    """Create the tariff ``data.code`` or replace it whole (periods, prices, stations), taking its
    stations and the default from others (tariff_claims_take). (tariff, created)."""
    periods = tariff_check(data=data)
    stations = stations_by_code(codes=list(data.station_codes))
    with transaction.atomic():
        before = Tariff.objects.filter(code=data.code).first()
        stations_before = set(before.stations.values_list("pk", flat=True)) if before else set()
        tariff, created = Tariff.objects.update_or_create(code=data.code, defaults={
            "name": data.name, "currency": data.currency, "valid_from": data.valid_from,
            "is_default": data.is_default, "idle_fee_per_hour": data.idle_fee_per_hour,
            "idle_grace_minutes": data.idle_grace_minutes,
        })
        tariff.periods.all().delete()
        TariffPeriod.objects.bulk_create([
            TariffPeriod(tariff=tariff, start=_time(p.start), end=_time(p.end), energy_price=p.energy_price,
                         service_price=p.service_price)
            for p in periods
        ])
        tariff.stations.set(stations)
        tariff_claims_take(tariff=tariff)
        # The periods are written in bulk (no signal per row): the audit trail gets them in one entry.
        audit_record(action="periods set", object_type="tariffs.Tariff", object_id=tariff.pk,
                     summary=f"tariffs.Tariff {tariff.code}: periods and stations set",
                     changes={"periods": [f"{_time(p.start):%H:%M}-{_time(p.end):%H:%M} {p.energy_price}+{p.service_price}"
                                          for p in periods],
                              "stations": sorted(station.code for station in stations)})
        tariff_changed_after_commit(tariff=tariff, stations_before=stations_before,
                                    was_default=bool(before and before.is_default))
    return tariff, created


def tariff_changed_after_commit(*, tariff: Tariff, stations_before: set[int], was_default: bool) -> None:
    """Tell whoever keeps a copy of a box's tariff (tariffs.signals), once ``tariff``'s new state is
    committed, which boxes' tariffs it may have changed."""
    changed = {"station_ids": stations_before | set(tariff.stations.values_list("pk", flat=True)),
               "default": tariff.is_default or was_default}
    transaction.on_commit(lambda: tariff_changed.send(sender=Tariff, **changed))


def tariff_claims_take(*, tariff: Tariff) -> None:
    """A station has one tariff per validity start, and so has the default: ``tariff`` takes its
    stations, and the default if it is one, from the others with the same valid_from."""
    same_validity = Tariff.objects.exclude(pk=tariff.pk).filter(
        Q(valid_from=tariff.valid_from) if tariff.valid_from else Q(valid_from__isnull=True))
    if tariff.is_default:
        same_validity.filter(is_default=True).update(is_default=False)
    Tariff.stations.through.objects.filter(
        tariff__in=same_validity, station__in=tariff.stations.values("pk")).delete()


def station_tariff_assign(*, station_code: str, tariff: Tariff) -> Tariff:
    """Give the station ``tariff`` (taking it from the tariff that had it with the same validity)."""
    stations_by_code(codes=[station_code], field="station")
    current = tariff_input_of(tariff)
    return tariff_save(data=replace(current, station_codes=(*current.station_codes, station_code)))[0]


def tariff_input_of(tariff: Tariff) -> TariffInput:
    return TariffInput(
        code=tariff.code, periods=tariff.period_values(), currency=tariff.currency, name=tariff.name,
        valid_from=tariff.valid_from, station_codes=tuple(tariff.stations.values_list("code", flat=True)),
        is_default=tariff.is_default, idle_fee_per_hour=tariff.idle_fee_per_hour,
        idle_grace_minutes=tariff.idle_grace_minutes,
    )


def _time(minute: int) -> time:
    return time(minute // 60 % 24, minute % 60)


def tariff_for(*, station_id: int | None, at: datetime) -> Tariff | None:
    """The tariff of a session that starts at ``at`` at this station: the station's own valid
    latest, else the default valid latest. One indexed query; its periods come with it."""
    own = Exists(Tariff.stations.through.objects.filter(tariff=OuterRef("pk"), station_id=station_id))
    return (
        Tariff.objects.annotate(own=own)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=at), Q(own=True) | Q(is_default=True))
        .order_by(F("own").desc(), F("valid_from").desc(nulls_last=True), "-id")
        .prefetch_related("periods")
        .first()
    )


def pricing_of(tariff: Tariff) -> Pricing:
    return Pricing(
        periods=periods_check(tariff.period_values()), tz=ZoneInfo(settings.TIME_ZONE),
        idle_fee_per_hour=tariff.idle_fee_per_hour, idle_grace_minutes=tariff.idle_grace_minutes,
    )


@dataclass(frozen=True)
class SessionFacts:
    """What costing needs of a session, as plain values (transactions hands them in)."""

    transaction_id: int
    station_id: int | None
    started_at: datetime
    stopped_at: datetime
    meter_start_wh: int | Decimal
    meter_stop_wh: int | Decimal
    readings: list[Reading]


def session_cost_compute(*, session: SessionFacts, tariff: Tariff | None = None) -> tuple[Tariff, Cost] | None:
    """The session's cost under the tariff valid at its start (or ``tariff``); None without one."""
    tariff = tariff or tariff_for(station_id=session.station_id, at=session.started_at)
    if tariff is None:
        return None
    cost = session_cost(
        started_at=session.started_at, stopped_at=session.stopped_at, meter_start_wh=session.meter_start_wh,
        meter_stop_wh=session.meter_stop_wh, readings=session.readings, pricing=pricing_of(tariff),
    )
    return tariff, cost


def session_cost_store(*, session: SessionFacts, tariff: Tariff | None = None) -> SessionCost | None:
    """Work out and store (or replace) a stopped session's cost under the tariff valid at its start
    (or ``tariff``); None, and nothing stored, when no tariff applies."""
    computed = session_cost_compute(session=session, tariff=tariff)
    if computed is None:
        SessionCost.objects.filter(transaction_id=session.transaction_id).delete()
        return None
    tariff, cost = computed
    row, _ = SessionCost.objects.update_or_create(transaction_id=session.transaction_id, defaults={
        "tariff": tariff, "tariff_code": tariff.code, "currency": tariff.currency, "energy": cost.energy,
        "service": cost.service, "idle": cost.idle, "total": cost.total, "lines": lines_stored(cost),
        "flags": [str(flag) for flag in cost.flags],
    })
    if row.box_reported is not None:  # recomputed: compared with the box's figure again
        row.flags = box_cost_flags(row)
        row.save(update_fields=["flags"])
    return row


# A disagreement up to this much is rounding (the box bills in fen per segment, we per line).
BOX_COST_TOLERANCE = Decimal("0.01")


def box_cost_flags(cost: SessionCost) -> list[str]:
    """The cost's flags, with BOX_COST_DIFFERS exactly when the box's own total is more than
    BOX_COST_TOLERANCE away from ours."""
    flags = [flag for flag in cost.flags if flag != BOX_COST_DIFFERS]
    if cost.box_reported is not None and abs(Decimal(cost.total) - cost.box_reported) > BOX_COST_TOLERANCE:
        flags.append(BOX_COST_DIFFERS)
    return flags


def session_cost_box_report(*, cost: SessionCost, amount: Decimal) -> SessionCost:
    """Keep what the box itself says a session cost (in the tariff's currency) beside our figure,
    and flag the session where the two disagree."""
    cost.box_reported = amount
    cost.flags = box_cost_flags(cost)
    cost.save(update_fields=["box_reported", "flags"])
    return cost


def lines_stored(cost: Cost) -> list[dict]:
    """The lines as the read API shows them (DESIGN.md §3), and each one's exact energy."""
    return [
        {
            "from": line.start.isoformat().replace("+00:00", "Z"),
            "to": line.end.isoformat().replace("+00:00", "Z"),
            "energyWh": line.energy_wh_rounded,
            "energyPrice": str(line.energy_price),
            "servicePrice": str(line.service_price),
            "energyCost": str(line.energy_cost),
            "serviceCost": str(line.service_cost),
            "energyWhExact": str(line.energy_wh),
        }
        for line in cost.lines
    ]
