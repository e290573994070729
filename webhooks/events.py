"""The domain's signals as webhook events. A receiver runs inside the domain's transaction and
only queues (webhooks.services.event_publish); what needs a query is rendered by the fan-out task
after the commit (``event_data``), in the read API's shapes."""

from __future__ import annotations

from chargers.api import AlarmOut
from chargers.models import Alarm
from chargers.signals import alarm_cleared, alarm_raised, box_offline, box_online, idtag_unknown
from commands.api import CommandOut
from commands.models import Command
from commands.signals import command_finished
from firmware.signals import firmware_status_changed
from transactions.api import SessionOut
from transactions.models import Transaction
from transactions.signals import session_started, session_stopped
from webhooks.models import EventType
from webhooks.services import Event, event_publish


def on_session_started(sender, transaction: Transaction, **kwargs) -> None:
    # What a start says cannot change: rendered now, from the row in hand.
    event_publish(Event(EventType.SESSION_STARTED, data={
        "id": transaction.id, "box": transaction.box.serial, "connectorId": transaction.connector.connector_id,
        "idTag": transaction.id_tag, "meterStartWh": transaction.meter_start_wh,
        "startedAt": transaction.started_at.isoformat(), "reservationId": transaction.reservation_id,
    }))


def on_session_stopped(sender, transaction: Transaction, **kwargs) -> None:
    event_publish(Event(EventType.SESSION_STOPPED, ref={"transaction": transaction.id}))


def on_box_online(sender, box, **kwargs) -> None:
    event_publish(Event(EventType.BOX_ONLINE, data={"box": box.serial, "protocol": box.protocol}))


def on_box_offline(sender, box, **kwargs) -> None:
    event_publish(Event(EventType.BOX_OFFLINE, data={"box": box.serial}))


def on_alarm_raised(sender, alarm: Alarm, **kwargs) -> None:
    # Rendered now, as it was raised: a fault cleared a moment later (before the delivery reads the
    # row) was still raised, and open, when this was told.
    data = dict(AlarmOut(alarm).data)
    event_publish(Event(EventType.FAULT_RAISED, data=data))
    # EVCHONG 2.7: whom the alarm concerns, as its own events (operations also get the e-mail).
    if alarm.notify_user:
        event_publish(Event(EventType.NOTIFY_USER, data=data))
    if alarm.notify_operations:
        event_publish(Event(EventType.NOTIFY_OPERATIONS, data=data))


def on_alarm_cleared(sender, box, connector_id: int, alarm_ids: list[int], **kwargs) -> None:
    event_publish(Event(EventType.FAULT_CLEARED, data={"box": box.serial, "connectorId": connector_id,
                                                       "alarmIds": alarm_ids}))


def on_command_finished(sender, command: Command, **kwargs) -> None:
    event_publish(Event(EventType.COMMAND_FINISHED, ref={"command": command.pk}))


def on_firmware_status(sender, box, status: str, **kwargs) -> None:
    event_publish(Event(EventType.FIRMWARE_STATUS, data={"box": box.serial, "status": status}))


def on_idtag_unknown(sender, box, id_tag: str, **kwargs) -> None:
    event_publish(Event(EventType.IDTAG_UNKNOWN, data={"box": box.serial, "idTag": id_tag}))


RECEIVERS = [
    (session_started, on_session_started), (session_stopped, on_session_stopped), (box_online, on_box_online),
    (box_offline, on_box_offline), (alarm_raised, on_alarm_raised), (alarm_cleared, on_alarm_cleared),
    (command_finished, on_command_finished), (firmware_status_changed, on_firmware_status),
    (idtag_unknown, on_idtag_unknown),
]


def connect() -> None:
    for signal, receiver in RECEIVERS:
        signal.connect(receiver, dispatch_uid=f"webhooks.{receiver.__name__}")


def event_data(event_type: str, ref: dict) -> dict | None:
    """The data of an event queued by reference, as the read API shows the row; None when the
    row is gone."""
    if "transaction" in ref:
        tx = Transaction.objects.select_related("box", "connector", "cost").filter(pk=ref["transaction"]).first()
        return SessionOut(tx).data if tx else None
    if "alarm" in ref:
        alarm = Alarm.objects.select_related("box").filter(pk=ref["alarm"]).first()
        return AlarmOut(alarm).data if alarm else None
    if "command" in ref:
        command = Command.objects.select_related("box").filter(pk=ref["command"]).first()
        return CommandOut(command).data if command else None
    raise ValueError(f"{event_type}: nothing to render it from ({ref})")
