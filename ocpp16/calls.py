"""Calls from the central system to a connected box, from any process.

``call_box`` hands the call to whichever server process holds the box's connection (a channel-layer
group per box), and waits on a Redis list for the outcome, which that process pushes once the box
has answered, failed to answer in time, or gone away. Nothing waits on another task: a Celery task
or a view can call it directly.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
import uuid
import weakref

import orjson
import redis.asyncio as redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from chargers.services import box_get
from ocpp16.errors import ErrorCode, InvalidCall, OcppError
from ocpp16.schemas import CENTRAL_SYSTEM_ACTIONS, validate_request

log = logging.getLogger(__name__)

# An outcome nobody collected is dropped after this long.
REPLY_TTL = 300
# How much longer than the box's deadline the caller waits, so that an outcome pushed right at
# the deadline ("timeout", or a late answer) still reaches it.
REPLY_GRACE = 1.0

ANSWERED, ERROR, TIMEOUT, OFFLINE = "answered", "error", "timeout", "offline"

_SAFE_GROUP = re.compile(r"^[A-Za-z0-9._-]{1,80}$")


def box_group(serial: str) -> str:
    """The channel-layer group of a box's connection. Group names allow ASCII letters, digits,
    ``-_.`` and fewer than 100 characters; any other serial is hashed (under its own prefix, so a
    plain serial can never collide with a hashed one)."""
    if _SAFE_GROUP.match(serial):
        return f"ocpp.box.{serial}"
    return f"ocpp.boxh.{hashlib.sha256(serial.encode()).hexdigest()}"


async def call_box(serial: str, action: str, payload: dict, timeout: float | None = None) -> dict:
    """Send ``action`` to the box and return the outcome:
    ``{"status": "answered", "payload": {...}}``, ``{"status": "error", "code", "description"}``,
    ``{"status": "timeout"}`` or ``{"status": "offline"}``.

    Raises UnknownChargeBox, or InvalidCall for an action the central system cannot send or a
    payload that fails the action's OCPP 1.6 schema.
    """
    timeout = settings.OCPP_CALL_TIMEOUT if timeout is None else timeout
    if action not in CENTRAL_SYSTEM_ACTIONS:
        raise InvalidCall(f"{action!r} is not a call an OCPP 1.6 central system makes", field="action",
                          code=ErrorCode.NOT_SUPPORTED)
    try:
        validate_request(action, payload)
    except OcppError as exc:
        raise InvalidCall(exc.description, field="payload", code=exc.code) from None
    box = await database_sync_to_async(box_get, thread_sensitive=False)(serial=serial, require_accepted=False)
    if not box.connected_node:
        return {"status": OFFLINE}
    reply_key = f"ocpp:reply:{uuid.uuid4().hex}"
    # A connection of its own, since BLPOP holds it for the whole wait, and a read timeout longer
    # than the wait (redis-py's default of 5 s would cut it short).
    async with redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout + REPLY_GRACE + 5) as client:
        await get_channel_layer().group_send(
            box_group(serial),
            # The deadline travels with the call, so a call that waited in the box's queue is not
            # sent after its caller has stopped waiting.
            {"type": "ocpp.call", "action": action, "payload": payload, "reply_key": reply_key,
             "deadline": time.time() + timeout},
        )
        popped = await client.blpop([reply_key], timeout=timeout + REPLY_GRACE)
    if popped is None:
        return {"status": TIMEOUT}
    return orjson.loads(popped[1])


def call_box_sync(serial: str, action: str, payload: dict, timeout: float | None = None) -> dict:
    """``call_box`` for synchronous code (Celery tasks, management commands)."""
    return async_to_sync(call_box)(serial, action, payload, timeout)


# One client per event loop: a redis.asyncio connection belongs to the loop that opened it.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.Redis] = weakref.WeakKeyDictionary()


async def reply_push(reply_key: str, outcome: dict) -> None:
    """Hand an outcome to whoever waits on ``reply_key``. A failure is logged, never raised: the
    connection to the box matters more than one caller, who will see a timeout."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = redis.Redis.from_url(settings.REDIS_URL)
    try:
        async with client.pipeline(transaction=True) as pipe:
            pipe.rpush(reply_key, orjson.dumps(outcome))
            pipe.expire(reply_key, REPLY_TTL)
            await pipe.execute()
    except redis.RedisError:
        log.exception("could not push the outcome of a call to %s", reply_key)
