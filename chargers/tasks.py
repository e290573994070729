from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.utils import timezone

from chargers.alarms import alarms_expire
from chargers.models import Alarm
from chargers.services import boxes_of_dead_processes_release
from chargers.reservations import reservations_expire


@shared_task
def alarm_email_operations(alarm_id: int) -> None:
    # Claim the alarm with a conditional UPDATE so that a redelivered task sends no second mail.
    claimed = Alarm.objects.filter(pk=alarm_id, emailed__isnull=True).update(emailed=timezone.now())
    if not claimed:
        return
    alarm = Alarm.objects.select_related("box").get(pk=alarm_id)
    # A status report's alarm says status and error code; a box's own alarm level, code and component.
    what, code = alarm.status or alarm.level, alarm.error_code or alarm.code
    subject = f"[evchong] {alarm.box.serial} connector {alarm.connector_id} {what}: {code}"
    body = (
        f"Charge box {alarm.box.serial}, connector {alarm.connector_id}\n"
        + (f"status {alarm.status}, error {alarm.error_code}" if alarm.status else
           f"level {alarm.level}, alarm {alarm.code}, component {alarm.component or '-'}")
        + f", vendor error {alarm.vendor_error_code or '-'}\n"
        f"info: {alarm.info or '-'}\n"
        f"transaction: {alarm.transaction_id or 'none'}\n"
        f"reported at {alarm.raised.isoformat()}\n"
    )
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, settings.OPERATIONS_EMAILS)
    except Exception:
        # Unclaim so the retry (late ack redelivery or the next run) can send it.
        Alarm.objects.filter(pk=alarm_id).update(emailed=None)
        raise


@shared_task
def journal_trim() -> int:
    """Keep the newest JOURNAL_MAX_PER_BOX frames of each box."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM chargers_journalentry j
            USING (
                SELECT box_id, id FROM (
                    SELECT box_id, id, row_number() OVER (PARTITION BY box_id ORDER BY id DESC) AS rn
                    FROM chargers_journalentry
                ) ranked WHERE rn = %s
            ) cut
            WHERE j.box_id = cut.box_id AND j.id < cut.id
            """,
            [settings.JOURNAL_MAX_PER_BOX],
        )
        return cursor.rowcount


@shared_task
def reservations_sweep() -> int:
    """Reservations past their expiryDate end as expired (a conditional UPDATE: re-runs are void)."""
    return reservations_expire()


@shared_task
def alarms_sweep() -> int:
    """Alarms whose time to live has passed clear themselves (chargers.alarms)."""
    return alarms_expire()


@shared_task
def boxes_of_dead_processes_sweep() -> int:
    """Boxes held by a server process that died are not sent commands (chargers.presence)."""
    return boxes_of_dead_processes_release()
