"""What the status pages and the dashboard show, read with indexed queries only: every list is a
LIMITed scan of an index on (box, newest first) or a primary key, whatever the tables' size."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, OuterRef, Subquery, Sum
from django.utils import timezone

from chargers.choices import ChargePointStatus
from chargers.alarms import open_q as alarm_open_q
from chargers.models import Alarm, ChargeBox, Connector, JournalEntry
from chargers.presence import online_q
from commands.models import Command, CommandState
from core.stack import supervisor_state
from firmware.models import DiagnosticsUpload, FirmwareStatusEvent
from tariffs.models import SessionCost
from tariffs.splitter import Cost
from transactions.costing import transaction_cost_so_far
from transactions.models import MeterValue, Transaction

JOURNAL_FRAMES = 50
FAILED_COMMAND_STATES = [CommandState.FAILED, CommandState.TIMED_OUT, CommandState.REJECTED]
ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
# How far back a reading that names no session still counts as the session's live value.
LIVE_WINDOW = timedelta(minutes=10)


@dataclass
class SessionNow:
    transaction: Transaction
    power_w: float | None
    energy_wh: float | None
    soc: float | None
    cost: Cost | None = None  # up to the newest register reading, under the session's tariff
    currency: str = ""


def _newest(values, measurand: str) -> tuple[datetime, float] | None:
    """The newest reading of ``measurand`` among ``values``, with its time; per-phase readings taken
    at that moment are added up."""
    rows = list(
        values.filter(measurand=measurand, value__isnull=False)
        .order_by("-timestamp")
        .values_list("timestamp", "phase", "value")[:6]
    )
    if not rows:
        return None
    newest = [(phase, value) for at, phase, value in rows if at == rows[0][0]]
    unphased = [value for phase, value in newest if not phase]
    if unphased:
        return rows[0][0], unphased[0]
    # L1-N and L1 both mean phase 1: count each phase once.
    by_phase = {phase[:2]: value for phase, value in newest}
    return rows[0][0], sum(by_phase.values())


def _latest(transaction: Transaction, measurand: str) -> float | None:
    """The newest reading of ``measurand`` for a session in progress, whichever protocol reported it:
    the values that name the session, or, when newer, the connector's values that name none (a
    Kotodian ChargingInfo carries the box's record number, not our session). Those are read only
    from the last LIVE_WINDOW, so that the scan of the (box, connector, timestamp) index stays short."""
    linked = _newest(MeterValue.objects.filter(transaction=transaction), measurand)
    since = max(transaction.started_at, timezone.now() - LIVE_WINDOW)
    unlinked = _newest(MeterValue.objects.filter(
        box_id=transaction.box_id, connector_id=transaction.connector.connector_id, timestamp__gte=since,
        transaction__isnull=True), measurand)
    found = max(filter(None, [linked, unlinked]), key=lambda reading: reading[0], default=None)
    return found[1] if found else None


def session_now(transaction: Transaction) -> SessionNow:
    register = _latest(transaction, ENERGY_REGISTER)
    energy = register - transaction.meter_start_wh if register is not None else None
    if energy is not None and energy < 0:
        energy = register  # some boxes count a session's energy from 0 instead of their register
    priced = transaction_cost_so_far(tx=transaction, station_id=transaction.box.station_id)
    return SessionNow(transaction, _latest(transaction, POWER), energy, _latest(transaction, "SoC"),
                      *(priced or (None, "")))


@dataclass
class BoxStatus:
    box: ChargeBox
    connectors: list[tuple[Connector, SessionNow | None]]
    last_heartbeat: datetime | None
    firmware: list[FirmwareStatusEvent]
    alarms: list[Alarm]
    journal: list[JournalEntry]


def box_status(box: ChargeBox) -> BoxStatus:
    running = {
        tx.connector_id: tx
        for tx in Transaction.objects.filter(box=box, stopped_at__isnull=True).select_related("connector", "box")
    }
    connectors = [
        (connector, session_now(running[connector.pk]) if connector.pk in running else None)
        for connector in box.connectors.order_by("connector_id")
    ]
    heartbeat = (
        JournalEntry.objects.filter(box=box, action__iexact="heartbeat", direction="in")
        .order_by("-id").values_list("at", flat=True).first()
    )
    return BoxStatus(
        box=box,
        connectors=connectors,
        last_heartbeat=heartbeat,
        firmware=list(FirmwareStatusEvent.objects.filter(box=box)[:5]),
        alarms=list(Alarm.objects.filter(alarm_open_q(), box=box).order_by("-id")[:20]),
        journal=list(JournalEntry.objects.filter(box=box).order_by("-id")[:JOURNAL_FRAMES]),
    )


@dataclass
class Dashboard:
    boxes: int
    online: int
    charging: int
    faulted: int
    active_sessions: int
    energy_today_wh: int
    energy_running_wh: float
    revenue_today: list[tuple[str, Decimal]]  # (currency, sum of the costs of sessions ended today)
    faults: list[Alarm]
    failed_commands: list[Command]
    # `make run`'s processes started again after a crash, by name (core.stack); empty without it.
    restarts: dict[str, int]

    @property
    def restarted(self) -> int:
        return sum(self.restarts.values())

    @property
    def offline(self) -> int:
        return self.boxes - self.online


def _boxes_with(status: str) -> int:
    return Connector.objects.filter(status=status).values("box").distinct().count()


def dashboard(now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    counts = ChargeBox.objects.aggregate(boxes=Count("pk"), online=Count("pk", filter=online_q(now)))
    # One correlated subquery per running session: a backward scan of (transaction, timestamp).
    latest_register = (
        MeterValue.objects.filter(transaction=OuterRef("pk"), measurand=ENERGY_REGISTER, value__isnull=False)
        .order_by("-timestamp").values("value")[:1]
    )
    running = list(
        Transaction.objects.filter(stopped_at__isnull=True)
        .annotate(register=Subquery(latest_register)).values_list("meter_start_wh", "register")
    )
    ended_today = Transaction.objects.filter(stopped_at__gte=midnight).aggregate(wh=Sum("energy_wh"))["wh"]
    revenue = (
        SessionCost.objects.filter(transaction__stopped_at__gte=midnight)
        .values_list("currency").annotate(total=Sum("total")).order_by("currency")
    )
    return Dashboard(
        boxes=counts["boxes"],
        online=counts["online"],
        charging=_boxes_with(ChargePointStatus.CHARGING),
        faulted=_boxes_with(ChargePointStatus.FAULTED),
        active_sessions=len(running),
        energy_today_wh=ended_today or 0,
        energy_running_wh=sum(max(register - start, 0) for start, register in running if register is not None),
        revenue_today=list(revenue),
        faults=list(Alarm.objects.select_related("box").order_by("-id")[:10]),
        failed_commands=list(
            Command.objects.filter(state__in=FAILED_COMMAND_STATES).select_related("box").order_by("-id")[:10]
        ),
        restarts={name: state.get("restarts", 0) for name, state in supervisor_state().items()},
    )


def box_diagnostics(box: ChargeBox, limit: int = 10) -> list[tuple[DiagnosticsUpload, list[str]]]:
    """The box's newest diagnostics uploads, each with the files it holds."""
    return [(upload, upload.file_names()) for upload in DiagnosticsUpload.objects.filter(box=box)[:limit]]
