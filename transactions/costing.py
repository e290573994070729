"""A session's cost from its own data: the energy register readings (Energy.Active.Import.Register,
unphased, at the outlet) handed to tariffs, which prices them. Called by transaction_stop for
every protocol, by `recomputecost` after a tariff correction, and by the status page for a
running session."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction as db_transaction

from tariffs.models import SessionCost
from tariffs.services import SessionFacts, session_cost_compute, session_cost_store, tariff_for
from tariffs.splitter import Cost, Reading
from transactions.choices import Location
from transactions.models import MeterValue, Transaction
from transactions.units import DEFAULT_MEASURAND

log = logging.getLogger(__name__)
# Readings are stored as floats of Wh; a mWh is finer than any meter reports, and rounding to it
# takes the float's binary noise off a kWh reading times 1000.
MILLI_WH = Decimal("0.001")


def register_readings(*, transaction_id: int) -> list[Reading]:
    """The session's energy register readings, over the (transaction, timestamp) index."""
    rows = MeterValue.objects.filter(
        transaction_id=transaction_id, measurand=DEFAULT_MEASURAND, phase="", location=Location.OUTLET,
        value__isnull=False,
    ).values_list("timestamp", "value")
    return [Reading(at, Decimal(repr(value)).quantize(MILLI_WH)) for at, value in rows]


def session_facts(tx: Transaction, *, station_id: int | None) -> SessionFacts:
    """A stopped session as tariffs takes it."""
    return SessionFacts(
        transaction_id=tx.pk, station_id=station_id, started_at=tx.started_at, stopped_at=tx.stopped_at,
        meter_start_wh=tx.meter_start_wh, meter_stop_wh=tx.meter_stop_wh,
        readings=register_readings(transaction_id=tx.pk),
    )


def transaction_cost_record(*, tx: Transaction, station_id: int | None) -> SessionCost | None:
    """Cost a session that has just stopped, inside the stop's database transaction. A failure
    here must not lose the stop the box is waiting to have acknowledged: it is logged, the session
    stays without a cost, and `recomputecost` can cost it later."""
    if tx.stopped_at is None or tx.meter_stop_wh is None:
        return None
    try:
        # Looked up first: where no tariff applies, a stop costs one query more, not a savepoint, a
        # read of its readings and a delete (a stop is new, so there is no cost to take back).
        tariff = tariff_for(station_id=station_id, at=tx.started_at)
        if tariff is None:
            return None
        with db_transaction.atomic():
            return session_cost_store(session=session_facts(tx, station_id=station_id), tariff=tariff)
    except Exception:
        log.exception("session %s could not be costed", tx.pk)
        return None


@dataclass(frozen=True)
class CostChange:
    transaction_id: int
    before: SessionCost | None
    after: SessionCost | None

    @property
    def changed(self) -> bool:
        def key(cost):
            return None if cost is None else (cost.tariff_code, cost.currency, cost.total, cost.energy,
                                              cost.service, cost.idle, cost.lines, cost.flags)
        return key(self.before) != key(self.after)


def transactions_cost_recompute(*, stopped_from: datetime, stopped_to: datetime) -> Iterator[CostChange]:
    """Recompute the cost of every session stopped in [stopped_from, stopped_to) from its stored
    meter values and the tariffs as they are now, one by one (a range may hold millions), each in
    its own database transaction."""
    sessions = (
        Transaction.objects.filter(stopped_at__gte=stopped_from, stopped_at__lt=stopped_to,
                                   meter_stop_wh__isnull=False)
        .select_related("box").order_by("stopped_at", "id")
    )
    for tx in sessions.iterator(chunk_size=500):
        with db_transaction.atomic():
            before = SessionCost.objects.filter(transaction_id=tx.pk).first()
            after = session_cost_store(session=session_facts(tx, station_id=tx.box.station_id))
        yield CostChange(tx.pk, before, after)


def transaction_cost_so_far(*, tx: Transaction, station_id: int | None) -> tuple[Cost, str] | None:
    """What a running session has cost up to its newest register reading, and in which currency
    (not stored)."""
    readings = register_readings(transaction_id=tx.pk)
    if not readings:
        return None
    newest = max(readings, key=lambda r: (r.at, r.wh))
    if newest.at <= tx.started_at:
        return None
    facts = SessionFacts(
        transaction_id=tx.pk, station_id=station_id, started_at=tx.started_at, stopped_at=newest.at,
        meter_start_wh=tx.meter_start_wh, meter_stop_wh=newest.wh, readings=readings,
    )
    computed = session_cost_compute(session=facts)
    if computed is None:
        return None
    tariff, cost = computed
    return cost, tariff.currency
