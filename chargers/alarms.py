"""Alarms a box raises of its own (Kotodian's WarningReq, kotodian-apdu 2.12), for any protocol
that reports them: raised, raised again, cleared by the box, or cleared by themselves once their
time to live has passed (the sweep ``alarms_expire`` runs under Celery beat, chargers.tasks).

The alarms that status reports raise (OCPP, EVCHONG 2.7) are chargers.services'."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from chargers.choices import AlarmLevel
from chargers.models import Alarm, ChargeBox
from chargers.services import CONNECTOR_ID_MAX, _alarms_cleared_tell
from chargers.signals import alarm_raised
from core.errors import DomainError


GRAVE = frozenset({AlarmLevel.CRITICAL, AlarmLevel.ALERT})


@dataclass(frozen=True)
class AlarmReport:
    """An alarm as a box raised it. ``ttl``: seconds it holds unless raised again or cleared;
    None: until the box clears it."""

    code: str
    level: str
    connector_id: int = 0
    component: str = ""
    info: str = ""
    vendor_code: str = ""
    ttl: int | None = None
    raised: datetime | None = None


def alarm_raise(*, box: ChargeBox, report: AlarmReport) -> Alarm:
    """The box's alarm ``code`` open on its connector: one row per open alarm, so that a box that
    repeats it (or replays it after a reconnect) refreshes that row, its level, text and expiry,
    rather than opening another."""
    if not 0 <= report.connector_id <= CONNECTOR_ID_MAX:
        raise DomainError(f"there is no connector {report.connector_id}", field="connectorId")
    if not report.code:
        raise DomainError("an alarm needs its code", field="code")
    now = timezone.now()
    fields = {
        "level": report.level,
        "component": report.component[: Alarm._meta.get_field("component").max_length],
        "info": report.info[: Alarm._meta.get_field("info").max_length],
        "vendor_error_code": report.vendor_code[: Alarm._meta.get_field("vendor_error_code").max_length],
        "expires": now + timedelta(seconds=report.ttl) if report.ttl is not None else None,
    }
    code = report.code[: Alarm._meta.get_field("code").max_length]
    open_alarm = (
        Alarm.objects.select_for_update()
        .filter(open_q(now), box=box, code=code, connector_id=report.connector_id)
        .order_by("-id").first()
    )
    if open_alarm is not None:
        for name, value in fields.items():
            setattr(open_alarm, name, value)
        open_alarm.save(update_fields=list(fields))
        return open_alarm
    # The gravest are e-mailed to operations, as a fault is (EVCHONG 2.7); once, when first raised.
    grave = report.level in GRAVE
    alarm = Alarm.objects.create(box=box, connector_id=report.connector_id, code=code, raised=report.raised or now,
                                 notify_operations=grave, **fields)
    alarm_raised.send(sender=Alarm, alarm=alarm)  # webhooks: fault raised, as a status report's
    if grave:
        # By name: the tasks module imports this one.
        transaction.on_commit(lambda: current_app.send_task("chargers.tasks.alarm_email_operations",
                                                            args=[alarm.pk]))
    return alarm


def alarm_clear(*, box: ChargeBox, code: str, at: datetime | None = None) -> int:
    """The box says its alarm ``code`` is over: every open alarm of that code on the box is cleared."""
    cleared = _cleared_returning("%s", "box_id = %s AND code = %s AND cleared IS NULL",
                                 [at or timezone.now(), box.pk, code[: Alarm._meta.get_field("code").max_length]])
    _alarms_cleared_tell(cleared, {(box_id, connector_id): box for _, box_id, connector_id in cleared})
    return len(cleared)


def _cleared_returning(cleared: str, where: str, params: list) -> list[tuple[int, int, int]]:
    """UPDATE ... RETURNING (the ORM's update() returns a count): (id, box_id, connector_id) of each
    alarm cleared, for the alarm_cleared signal. ``cleared``: the SQL of the time it is cleared at."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Alarm._meta.db_table} SET cleared = {cleared} WHERE {where}"
                       " RETURNING id, box_id, connector_id", params)
        return cursor.fetchall()


def open_q(now: datetime | None = None) -> Q:
    """The alarms that are open at ``now``: not cleared, and not past their expiry (which the sweep
    may not have reached yet)."""
    now = now or timezone.now()
    return Q(cleared__isnull=True) & (Q(expires__isnull=True) | Q(expires__gt=now))


def alarms_expire(*, now: datetime | None = None) -> int:
    """Alarms past their expiry are cleared, as of their expiry (a conditional UPDATE: re-runs are void)."""
    now = now or timezone.now()
    cleared = _cleared_returning("expires", "cleared IS NULL AND expires <= %s", [now])
    boxes = ChargeBox.objects.in_bulk({box_id for _, box_id, _ in cleared})
    _alarms_cleared_tell(cleared, {(box_id, connector_id): boxes[box_id] for _, box_id, connector_id in cleared})
    return len(cleared)
