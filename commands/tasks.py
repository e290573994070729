import asyncio
import logging
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

log = logging.getLogger(__name__)

# A group_send is a few Redis round trips; longer than this, Redis is gone and the command fails.
GROUP_SEND_TIMEOUT = 30
UNREACHABLE = "the command could not be handed to the server holding the charge box's connection"


@shared_task(acks_late=True)
def deliver_commands(command_ids: list[int]) -> None:
    """Hand queued commands to the server processes holding their boxes' connections, and return.

    The edge there sends each call, waits for the answer and records it: no worker waits on a box,
    so a few workers carry any number of commands in flight. The state claim makes a redelivered
    task (late ack) send nothing twice. Several commands come in one message when they were issued
    together (commands.dispatch); within a message, each box's go out in the order they were issued. One
    command that cannot be handed on fails alone, saying so; the others go on.
    """
    calls = []
    for command in command_claim_delivery(command_ids):
        box = command.box
        if (why := box_command_channel(box)) is not None:
            _record(command.pk, {"status": "offline", "description": why})
        elif box.protocol == Protocol.OCPP16:
            calls.append(command)
        else:
            _record(command.pk, {"status": "error", "code": "NotSupported",
                                 "description": f"no command channel for protocol {box.protocol or 'unknown'}"})
    if calls:
        unsent = run_in_worker_loop(_send_in_order(calls), timeout=GROUP_SEND_TIMEOUT * len(calls) + 5)
        for command_id in unsent:
            _record(command_id, {"status": "error", "code": "InternalError", "description": UNREACHABLE})


@shared_task(acks_late=True)
def deliver_command(command_id: int) -> None:
    """One command: the message of releases before commands.dispatch, still in queues at an upgrade."""
    deliver_commands([command_id])


def _record(command_id: int, outcome: dict) -> None:
    try:
        command_record_outcome(command_id=command_id, outcome=outcome)
    except Exception:
        log.exception("the outcome of command %s could not be recorded; the sweep will end it", command_id)


async def _send_in_order(commands) -> list[int]:
    """Each command to its box's group: the boxes' commands side by side, each box's one after
    another (two calls for one box reach its connection in the order issued); the ids of those
    that could not be sent. One after another for all boxes, a message of 50 commands was 50 Redis
    round trips in a row, and under a burst of 1,000 remote starts the messages queued behind each
    other for the worker's two threads: p50 1.7 s from a command's commit to its claim."""
    by_box: dict[str, list] = {}
    for command in commands:
        by_box.setdefault(command.box.serial, []).append(command)
    unsent = await asyncio.gather(*(_send_one_after_another(box_commands) for box_commands in by_box.values()))
    return sorted(command_id for ids in unsent for command_id in ids)


async def _send_one_after_another(commands) -> list[int]:
    from ocpp16.calls import box_group

    layer, unsent = get_channel_layer(), []
    for command in commands:
        try:
            async with asyncio.timeout(GROUP_SEND_TIMEOUT):
                # The consumer holding the box records the outcome on the row and wakes waiters.
                await layer.group_send(box_group(command.box.serial), {
                    "type": "ocpp.call", "action": command.action, "payload": command.payload,
                    "reply_key": reply_key(command.pk), "command_id": command.pk,
                    # Anchored at issue time, not delivery time: a backlog in the queue must not push
                    # the box's deadline past the one the reverse API promised its caller (EVCHONG 1 f).
                    "deadline": command.created.timestamp() + settings.OCPP_CALL_TIMEOUT,
                })
        except Exception:
            log.exception("command %s could not be handed to its box's connection", command.pk)
            unsent.append(command.pk)
    return unsent


@shared_task
def sweep_commands() -> int:
    """Commands left open by a server that died mid-call end as timed out; expired claims go."""
    return command_expire_stale(older_than=timedelta(seconds=settings.COMMAND_STALE_SECONDS))
