"""Offline orders: finished sessions a box reports after the fact, each under a record number of
its own (Kotodian's TransactionReq). The rules, for any protocol that reports them:
- the same record from the same box is recorded once: a replay after a reconnect gets the same
  session and creates nothing;
- an order for a session we have (named by our id, or the same connector, tag and start) completes
  it: stops it with the order's energy if it is still open, leaves it as it is if it was stopped;
- an order for a session we never saw becomes a complete session (start and stop, the values the
  box measured), costed as a stop is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from chargers.models import ChargeBox
from chargers.services import connector_get
from core.errors import DomainError
from tariffs.services import session_cost_box_report
from transactions.choices import Reason
from transactions.costing import transaction_cost_record
from transactions.models import OfflineOrder, Transaction
from transactions.services import Sample, meter_values_store, transaction_stop


@dataclass(frozen=True)
class OfflineOrderReport:
    """One order as a box reported it; energy in Wh, our session id where the box knew it."""

    record_id: str
    connector_id: int
    id_tag: str
    meter_start_wh: int
    meter_stop_wh: int
    started_at: datetime
    stopped_at: datetime
    reason: str = Reason.OTHER
    transaction_id: int | None = None
    box_reported_cost: Decimal | None = None
    samples: tuple[Sample, ...] = ()  # what the box measured during the session (SoC, currents, ...)


@dataclass(frozen=True)
class OfflineOrderResult:
    transaction: Transaction
    replay: bool  # recorded before: nothing changed
    created: bool  # a session we had never seen


def offline_order_record(*, box: ChargeBox, order: OfflineOrderReport) -> OfflineOrderResult:
    if not order.record_id:
        raise DomainError("an offline order needs its record number", field="recordId")
    if order.connector_id < 1:
        raise DomainError("sessions run on connectors 1 and up (0 is the box itself)", field="connectorId")
    with transaction.atomic():
        known = OfflineOrder.objects.select_related("transaction").filter(box=box, record_id=order.record_id).first()
        if known is not None:
            return OfflineOrderResult(known.transaction, replay=True, created=False)
        connector = connector_get(box=box, connector_id=order.connector_id, lock=True)
        tx = None
        if order.transaction_id is not None:
            tx = Transaction.objects.filter(pk=order.transaction_id, box=box).first()
        if tx is None:
            tx = Transaction.objects.filter(connector=connector, id_tag=order.id_tag,
                                            started_at=order.started_at).first()
        created = tx is None
        if created:
            tx = Transaction.objects.create(
                box=box, connector=connector, id_tag=order.id_tag, meter_start_wh=order.meter_start_wh,
                started_at=order.started_at, meter_stop_wh=order.meter_stop_wh, stopped_at=order.stopped_at,
                stop_reason=order.reason,
            )
            tx.refresh_from_db(fields=["energy_wh"])
            meter_values_store(box=box, connector_id=order.connector_id, transaction_id=tx.pk,
                               samples=list(order.samples), transaction_row=tx)
            cost = transaction_cost_record(tx=tx, station_id=box.station_id)
            if cost is not None and order.box_reported_cost is not None:
                session_cost_box_report(cost=cost, amount=order.box_reported_cost)
        elif tx.stopped_at is None:
            transaction_stop(box=box, transaction_id=tx.pk, meter_stop_wh=order.meter_stop_wh,
                             timestamp=order.stopped_at, reason=order.reason,
                             samples=list(order.samples), box_reported_cost=order.box_reported_cost)
            tx.refresh_from_db()
        # A box's messages are written one after another (kotodian.bridge); should the same record
        # still arrive twice at once, the constraint refuses the second, which takes back its session.
        OfflineOrder.objects.create(box=box, record_id=order.record_id, transaction=tx)
        return OfflineOrderResult(tx, replay=False, created=created)
