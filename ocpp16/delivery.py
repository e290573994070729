"""Commands to OCPP boxes (commands.edges): which calls an OCPP 1.6 central system makes, their
payloads checked against the official schemas, and delivery to whichever server process holds the
box's WebSocket, through a channel-layer group per box. The consumer there sends the call and
settles the command when the box answers, times out or goes away (ocpp16.consumer)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re

from channels.layers import get_channel_layer
from django.conf import settings

from chargers.choices import Protocol
from commands.edges import HAND_OVER_TIMEOUT, CommandEdge, CommandInvalid
from ocpp16.errors import OcppError
from ocpp16.schemas import CENTRAL_SYSTEM_ACTIONS, validate_request

log = logging.getLogger(__name__)

_SAFE_GROUP = re.compile(r"^[A-Za-z0-9._-]{1,80}$")
RESERVE_NOW = "ReserveNow"


def box_group(serial: str) -> str:
    """The channel-layer group of a box's connection. Group names allow ASCII letters, digits,
    ``-_.`` and fewer than 100 characters; any other serial is hashed (under its own prefix, so a
    plain serial can never collide with a hashed one)."""
    if _SAFE_GROUP.match(serial):
        return f"ocpp.box.{serial}"
    return f"ocpp.boxh.{hashlib.sha256(serial.encode()).hexdigest()}"


def command_check(action: str, payload: dict) -> None:
    """The payload against the action's OCPP 1.6 schema. A ReserveNow's reservationId is ours to
    give (docs/adr/0007), so a caller may leave it out."""
    if action == RESERVE_NOW and "reservationId" not in payload:
        payload = {**payload, "reservationId": 1}
    try:
        validate_request(action, payload)
    except OcppError as problem:
        raise CommandInvalid(f"{problem.code}: {problem.description}", field="payload", code=problem.code) from None


async def commands_deliver(commands) -> list[int]:
    """Each command to its box's group: the boxes' commands side by side, each box's one after
    another (two calls for one box reach its connection in the order issued); the ids of those
    that could not be handed on. One after another for all boxes, a message of 50 commands was 50
    Redis round trips in a row (docs/performance.md)."""
    by_box: dict[str, list] = {}
    for command in commands:
        by_box.setdefault(command.box.serial, []).append(command)
    unsent = await asyncio.gather(*(_one_after_another(box_commands) for box_commands in by_box.values()))
    return [command_id for ids in unsent for command_id in ids]


async def _one_after_another(commands) -> list[int]:
    layer, unsent = get_channel_layer(), []
    for command in commands:
        try:
            async with asyncio.timeout(HAND_OVER_TIMEOUT):
                await layer.group_send(box_group(command.box.serial), {
                    "type": "ocpp.call", "action": command.action, "payload": command.payload,
                    "command_id": command.pk,
                    # Anchored at issue time, not delivery time: a backlog in the queue must not push
                    # the box's deadline past the one the reverse API promised its caller (EVCHONG 1 f).
                    "deadline": command.created.timestamp() + settings.OCPP_CALL_TIMEOUT,
                })
        except Exception:
            log.exception("command %s could not be handed to its box's connection", command.pk)
            unsent.append(command.pk)
    return unsent


EDGE = CommandEdge(Protocol.OCPP16, frozenset(CENTRAL_SYSTEM_ACTIONS), command_check, commands_deliver)
