import asyncio
import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from commands import campaigns
from commands.edges import HAND_OVER_TIMEOUT, command_edge
from commands.eventloop import run_in_worker_loop
from commands.outcomes import Outcome
from commands.services import box_command_channel, command_claim_delivery, command_expire_stale, command_settle

log = logging.getLogger(__name__)

UNREACHABLE = "the command could not be handed to the server holding the charge box's connection"


@shared_task(acks_late=True)
def deliver_commands(command_ids: list[int]) -> None:
    """Hand queued commands to the edges holding their boxes, and return.

    The edge sends each call, waits for the answer and settles the command: no worker waits on a
    box, so a few workers carry any number of commands in flight. The state claim makes a
    redelivered task (late ack) send nothing twice. Several commands come in one message when they
    were issued together (commands.dispatch); within a message, each box's go out in the order they
    were issued. One command that cannot be handed on fails alone, saying so; the others go on.
    """
    by_edge: dict = {}
    for command in command_claim_delivery(command_ids):
        if (why := box_command_channel(command.box)) is not None:
            _settle(command.pk, Outcome.offline(why))
        else:
            by_edge.setdefault(command_edge(command.box.protocol), []).append(command)
    if by_edge:
        count = sum(map(len, by_edge.values()))
        unsent = run_in_worker_loop(_deliver(by_edge), timeout=HAND_OVER_TIMEOUT * count + 5)
        for command_id in unsent:
            _settle(command_id, Outcome.error("InternalError", UNREACHABLE))


async def _deliver(by_edge: dict) -> list[int]:
    async def one_edge(edge, commands):
        try:
            return await edge.deliver(commands)
        except Exception:
            log.exception("commands %s could not be handed to the %s edge", [c.pk for c in commands], edge.protocol)
            return [command.pk for command in commands]

    unsent = await asyncio.gather(*(one_edge(edge, commands) for edge, commands in by_edge.items()))
    return sorted(command_id for ids in unsent for command_id in ids)


@shared_task(acks_late=True)
def deliver_command(command_id: int) -> None:
    """One command: the message of releases before commands.dispatch, still in queues at an upgrade."""
    deliver_commands([command_id])


def _settle(command_id: int, outcome: Outcome) -> None:
    try:
        command_settle(command_id=command_id, outcome=outcome)
    except Exception:
        log.exception("the outcome of command %s could not be recorded; the sweep will end it", command_id)


@shared_task
def sweep_commands() -> int:
    """Commands left open by a server that died mid-call end as timed out; expired claims go."""
    return command_expire_stale(older_than=timedelta(seconds=settings.COMMAND_STALE_SECONDS))


@shared_task
def campaigns_drive() -> int:
    """Every few seconds (the beat): follow and start the boxes of the firmware campaigns."""
    return campaigns.campaigns_drive()
