from datetime import timedelta

from celery import shared_task
from channels.layers import get_channel_layer
from django.conf import settings

from chargers.choices import Protocol
from commands.eventloop import run_in_worker_loop
from commands.services import (
    box_command_channel,
    command_claim_delivery,
    command_expire_stale,
    command_record_outcome,
    reply_key,
)

# A group_send is a few Redis round trips; longer than this, Redis is gone and the task fails
# (to be redelivered: late ack) rather than hold a worker thread.
GROUP_SEND_TIMEOUT = 30


@shared_task(acks_late=True)
def deliver_commands(command_ids: list[int]) -> None:
    """Hand queued commands to the server processes holding their boxes' connections, and return.

    The edge there sends each call, waits for the answer and records it: no worker waits on a box,
    so a few workers carry any number of commands in flight. The state claim makes a redelivered
    task (late ack) send nothing twice. Several commands come in one message when they were issued
    together (commands.dispatch); each box's calls still go in the order they were issued.
    """
    sends = []
    for command in command_claim_delivery(command_ids):
        box = command.box
        if (why := box_command_channel(box)) is not None:
            command_record_outcome(command_id=command.pk, outcome={"status": "offline", "description": why})
        elif box.protocol == Protocol.OCPP16:
            sends.append(_ocpp_call(command))
        else:
            command_record_outcome(
                command_id=command.pk,
                outcome={"status": "error", "code": "NotSupported",
                         "description": f"no command channel for protocol {box.protocol or 'unknown'}"},
            )
    if sends:
        run_in_worker_loop(_in_order(sends), timeout=GROUP_SEND_TIMEOUT)


@shared_task(acks_late=True)
def deliver_command(command_id: int) -> None:
    """One command: the message of releases before commands.dispatch, still in queues at an upgrade."""
    deliver_commands([command_id])


def _ocpp_call(command):
    from ocpp16.calls import box_group

    # The consumer holding the box records the outcome on the row (command_id) and wakes waiters.
    return get_channel_layer().group_send(
        box_group(command.box.serial),
        {"type": "ocpp.call", "action": command.action, "payload": command.payload,
         "reply_key": reply_key(command.pk), "command_id": command.pk,
         # Anchored at issue time, not delivery time: a backlog in the queue must not push the
         # box's deadline past the one the reverse API promised its caller (EVCHONG 1 f).
         "deadline": command.created.timestamp() + settings.OCPP_CALL_TIMEOUT},
    )


async def _in_order(sends) -> None:
    # One after another: two calls for one box must reach its connection in the order issued.
    for send in sends:
        await send


@shared_task
def sweep_commands() -> int:
    """Commands left open by a server that died mid-call end as timed out; expired claims go."""
    return command_expire_stale(older_than=timedelta(seconds=settings.COMMAND_STALE_SECONDS))
