"""Charging sessions: start, stop and meter values, the same for every protocol edge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction

from chargers.choices import AuthorizationStatus
from chargers.models import ChargeBox, Connector
from chargers.reservations import reservation_use
from chargers.services import CONNECTOR_ID_MAX, IdTagInfo, connector_get, idtag_authorize
from core.bulk import assignments, rows_insert
from core.errors import DomainError
from smartcharging.services import charging_profiles_end_with_session
from tariffs.services import session_cost_box_report
from transactions.choices import Location, ReadingContext, Reason, ValueFormat
from transactions.costing import transaction_cost_record
from transactions.models import MeterValue, Transaction
from transactions.signals import session_started, session_stopped
from transactions.units import DEFAULT_MEASURAND, measurand_canonical, normalise


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs twice as much, per sampled value
class Sample:
    """One sampled value as a box reported it (OCPP 1.6 SampledValue plus its MeterValue timestamp)."""

    timestamp: datetime
    value: str
    measurand: str = DEFAULT_MEASURAND
    unit: str | None = None
    phase: str = ""
    location: str = Location.OUTLET
    context: str = ReadingContext.SAMPLE_PERIODIC
    format: str = ValueFormat.RAW


@dataclass(frozen=True)
class StartResult:
    transaction: Transaction
    id_tag_info: IdTagInfo


@dataclass(frozen=True)
class StopResult:
    transaction: Transaction | None
    id_tag_info: IdTagInfo | None


def transaction_start(
    *,
    box: ChargeBox,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int,
    timestamp: datetime,
    reservation_id: int | None = None,
) -> StartResult:
    """Record a session the box has started; a replay of the same start gets the same id.

    The box has already started charging, so the start is always recorded; the answer's
    idTagInfo tells the box whether to go on. Starts on one connector are serialised by a row
    lock on the connector, and a database constraint keeps one active session per connector.
    """
    if connector_id < 1:
        raise DomainError("transactions run on connectors 1 and up (0 is the box itself)", field="connectorId")
    with transaction.atomic():
        connector = connector_get(box=box, connector_id=connector_id, lock=True)
        seen = _sessions_seen(connector=connector, id_tag=id_tag, started_at=timestamp)
        if seen.replay_id is not None:
            return StartResult(Transaction.objects.get(pk=seen.replay_id), idtag_authorize(id_tag=id_tag))

        info = idtag_authorize(id_tag=id_tag)
        if info.accepted and seen.tag_elsewhere:
            info = IdTagInfo(AuthorizationStatus.CONCURRENT_TX, info.expiry, info.parent_id_tag)

        stopped_at = None
        if seen.active_id is not None:
            if seen.active_started_at <= timestamp:
                # The box lost the stop of the earlier session (power loss, full offline queue):
                # it cannot run two at once, so the earlier one ended when this one began.
                Transaction.objects.filter(pk=seen.active_id).update(stopped_at=timestamp, stop_reason=Reason.OTHER)
            else:
                # A late report of an older offline session: keep it, closed, behind the active one.
                stopped_at = seen.active_started_at
        created = Transaction.objects.create(
            box=box,
            connector=connector,
            id_tag=id_tag,
            reservation_id=reservation_id,
            meter_start_wh=meter_start_wh,
            started_at=timestamp,
            stopped_at=stopped_at,
            stop_reason=Reason.OTHER if stopped_at else "",
        )
        if reservation_id is not None:
            # The box started this session on the reservation, which ends with it (OCPP 1.6 §5.13).
            reservation_use(box=box, reservation_id=reservation_id, transaction_id=created.id)
        # The box acted on a remote start (or started locally): the connector is no longer merely claimed.
        session_started.send(sender=Transaction, transaction=created)
        return StartResult(created, info)


@dataclass(frozen=True)
class SessionsSeen:
    replay_id: int | None  # this very start, recorded before (the box retried it)
    tag_elsewhere: bool  # the tag has a session open on another connector
    active_id: int | None  # the session open on this connector
    active_started_at: datetime | None


def _sessions_seen(*, connector: Connector, id_tag: str, started_at: datetime) -> SessionsSeen:
    """What a start must know of the sessions already recorded, in one statement (with the
    connector locked): through the ORM these were three queries, each costing more to build
    than to run."""
    table = Transaction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT id FROM {table} WHERE connector_id = %s AND id_tag = %s AND started_at = %s"
            "         ORDER BY id DESC LIMIT 1),"
            f"       EXISTS (SELECT 1 FROM {table} WHERE id_tag = %s AND stopped_at IS NULL AND connector_id <> %s),"
            f"       active.id, active.started_at"
            f" FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT id, started_at FROM {table}"
            "        WHERE connector_id = %s AND stopped_at IS NULL ORDER BY id DESC LIMIT 1) AS active ON true",
            [connector.pk, id_tag, started_at, id_tag, connector.pk, connector.pk],
        )
        return SessionsSeen(*cursor.fetchone())


def transaction_stop(
    *,
    box: ChargeBox,
    transaction_id: int,
    meter_stop_wh: int,
    timestamp: datetime,
    id_tag: str | None = None,
    reason: str = "",
    samples: list[Sample] = (),
    box_reported_cost: Decimal | None = None,
) -> StopResult:
    """Close a session. Unknown or already closed sessions are answered too (boxes would retry
    forever otherwise); their transaction data is kept against the id the box reported.
    ``box_reported_cost``: what the box itself says the session cost, kept beside ours."""
    with transaction.atomic():
        tx, connector_id = _session_close(
            box=box, transaction_id=transaction_id, meter_stop_wh=meter_stop_wh, stopped_at=timestamp,
            stop_reason=reason or Reason.LOCAL, stop_id_tag=id_tag or "",
        )
        closed_now = tx is not None
        if tx is None:  # unknown, or stopped before (a replay): as it stands
            tx = Transaction.objects.select_related("connector").filter(pk=transaction_id, box=box).first()
            connector_id = tx.connector.connector_id if tx is not None else 0
        # Also for a stop of a session we never recorded: a TxProfile may name its id all the same.
        charging_profiles_end_with_session(box=box, transaction_id=transaction_id)
        meter_values_store(
            box=box, connector_id=connector_id, transaction_id=transaction_id, samples=samples, transaction_row=tx
        )
        if closed_now:
            # Priced with the stop's own transaction data, committed with the stop (DESIGN.md §3).
            cost = transaction_cost_record(tx=tx, station_id=box.station_id)
            if cost is not None and box_reported_cost is not None:
                session_cost_box_report(cost=cost, amount=box_reported_cost)
            session_stopped.send(sender=Transaction, transaction=tx)
    tag = id_tag or (tx.id_tag if tx is not None else None)
    return StopResult(tx, idtag_authorize(id_tag=tag) if tag else None)


def _session_close(*, box: ChargeBox, transaction_id: int, **fields) -> tuple[Transaction | None, int]:
    """The box's open session ``transaction_id`` closed with ``fields`` and its connector's number,
    in one statement that locks, updates and reads it back (energy_wh is computed by the database);
    (None, 0) when there is no such open session. Through the ORM this was a locking read, a save, a
    read of energy_wh and one of the connector: four round trips and most of a stop's CPU."""
    assigned, values = assignments(Transaction, fields)
    found = list(Transaction.objects.raw(
        f"UPDATE {Transaction._meta.db_table} AS t SET {assigned} FROM {Connector._meta.db_table} AS k"
        " WHERE t.id = %s AND t.box_id = %s AND t.stopped_at IS NULL AND k.id = t.connector_id"
        " RETURNING t.*, k.connector_id AS connector_number",
        [*values, transaction_id, box.pk],
    ))
    return (found[0], found[0].connector_number) if found else (None, 0)


@dataclass(frozen=True)
class MeterReport:
    """The sampled values one message reported for a connector (and maybe a session)."""

    box: ChargeBox
    connector_id: int
    transaction_id: int | None
    samples: list[Sample]


def meter_report_check(report: MeterReport) -> None:
    if not 0 <= report.connector_id <= CONNECTOR_ID_MAX:
        raise DomainError(f"there is no connector {report.connector_id}", field="connectorId")


def meter_values_store(
    *,
    box: ChargeBox,
    connector_id: int,
    transaction_id: int | None,
    samples: list[Sample],
    transaction_row: Transaction | None = None,
) -> None:
    """Store every sampled value; replays are ignored by a unique constraint."""
    report = MeterReport(box, connector_id, transaction_id, samples)
    meter_report_check(report)
    session_boxes = {transaction_id: transaction_row.box_id} if transaction_row else None
    meter_reports_store([report], session_boxes=session_boxes)


def meter_reports_store(reports: list[MeterReport], *, session_boxes: dict[int, int] | None = None) -> None:
    """Store the sampled values of many reports (checked with meter_report_check) in one read of
    the sessions they name and one INSERT: the OCPP edge stores a whole batch of boxes' MeterValues
    this way. A session id that is not the box's own is kept as reported, unlinked.
    ``session_boxes``: the box of each session named, when the caller has read them already."""
    if session_boxes is None:
        named = {r.transaction_id for r in reports if r.samples and r.transaction_id and r.transaction_id > 0}
        session_boxes = _session_boxes(list(named)) if named else {}
    rows = []
    for report in reports:
        tx_id = report.transaction_id if report.transaction_id else None
        if tx_id is not None and session_boxes.get(tx_id) != report.box.pk:
            tx_id = None
        for sample in report.samples:
            measurand = measurand_canonical(sample.measurand) or sample.measurand
            value, unit = normalise(sample.value, sample.unit, measurand)
            rows.append((
                report.box.pk, report.connector_id, tx_id, report.transaction_id, sample.timestamp, measurand,
                sample.phase or "", sample.location or Location.OUTLET, sample.context or ReadingContext.SAMPLE_PERIODIC,
                sample.format or ValueFormat.RAW, value, unit, sample.value, sample.unit or "", sample.measurand or "",
            ))
    if rows:
        rows_insert(MeterValue, METER_VALUE_FIELDS, rows, ignore_conflicts=True)


def _session_boxes(transaction_ids: list[int]) -> dict[int, int]:
    """The box of each of these sessions that exists. As SQL: through the ORM (``in_bulk``) this
    read was a tenth of the server's time under steady ingest, all of it building model objects
    of which only two columns were used."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, box_id FROM {Transaction._meta.db_table} WHERE id = ANY(%s)", [transaction_ids])
        return dict(cursor.fetchall())


METER_VALUE_FIELDS = (
    "box_id", "connector_id", "transaction_id", "reported_transaction_id", "timestamp", "measurand", "phase",
    "location", "context", "format", "value", "unit", "raw_value", "raw_unit", "raw_measurand",
)
