"""Commands to Kotodian boxes (commands.edges): the calls of kotodian.calls, their payloads checked,
and delivery as a request APDU published on the box's command downlink,
/D/C/{deviceCode}, with QoS 2.

Before it is published, each request is recorded in Redis under (deviceCode, sequenceId)
(kotodian.topics.command_wait). The bridge (kotodian.bridge), taking the box's Conf with that
sequenceId off /U/C/{deviceCode}, settles the command in the inbound batch that journals the Conf,
as OCPP answers are; a command nobody answers is settled as timed out at its deadline by the worker
process that sent it, or else by the sweep (commands.tasks.sweep_commands).

One MQTT client per worker process, made on first use in the process's event loop
(commands.eventloop) and kept for the next deliveries."""

from __future__ import annotations

import asyncio
import logging
import time

import aiomqtt
from channels.db import database_sync_to_async
from django.conf import settings

from chargers.choices import Direction, Protocol
from chargers.models import ChargeBox
from chargers.services import journal_record
from commands.edges import CommandEdge, CommandInvalid
from commands.outcomes import Outcome
from commands.services import command_settle
from firmware.services import firmware_image_at
from kotodian import codec, topics
from kotodian.calls import CALLS, SET_TARIFF, UPDATE_FIRMWARE, request_of
from kotodian.edge import bytes_json
from kotodian.tariffs import set_tariff_request, tariff_check

log = logging.getLogger(__name__)

# Kept in Redis a while past the deadline, so that the timeout always finds what it must settle.
WAITING_MARGIN = 60


def command_check(action: str, payload: dict) -> None:
    """The payload of ``action`` as a Kotodian box can be sent it (kotodian.calls), and the tariff a
    SetTariff names."""
    request_of(action, payload)
    if action == SET_TARIFF:
        tariff_check(payload)


async def request_for(command) -> tuple[int, object]:
    """(messageId, request) of a command. A SetTariff gets its prices from the database now; an
    UpdateFirmware of one of our images its MD5, which the box's updater checks (DESIGN 3)."""
    message_id, request = request_of(command.action, command.payload)
    if command.action == SET_TARIFF:
        request = await database_sync_to_async(set_tariff_request, thread_sensitive=False)(command.box.pk,
                                                                                             command.payload)
    elif command.action == UPDATE_FIRMWARE:
        image = await database_sync_to_async(firmware_image_at, thread_sensitive=False)(request.url)
        if image is not None:
            request.checksum = image.md5
    return message_id, request


class Publisher:
    """The worker process's MQTT client, made on first use in its event loop and made again after
    the broker went away."""

    def __init__(self):
        self.client: aiomqtt.Client | None = None
        self.lock: asyncio.Lock | None = None

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        if self.lock is None:
            self.lock = asyncio.Lock()
        for attempt in range(2):
            client = await self.connected()
            try:
                await client.publish(topic, payload, qos=qos, timeout=10)
                return
            except aiomqtt.MqttError:
                await self.drop(client)
                if attempt:
                    raise

    async def connected(self) -> aiomqtt.Client:
        async with self.lock:
            if self.client is None:
                client = aiomqtt.Client(**topics.broker(), identifier=topics.client_id("worker"), clean_session=True)
                await client.__aenter__()
                self.client = client
            return self.client

    async def drop(self, client: aiomqtt.Client) -> None:
        async with self.lock:
            if self.client is client:
                self.client = None
        try:
            await client.__aexit__(None, None, None)
        except aiomqtt.MqttError:
            pass  # gone already


_publishers: dict = {}
_timers: set[asyncio.Task] = set()


def publisher() -> Publisher:
    """The Publisher of the running event loop (a client belongs to the loop that connected it)."""
    loop = asyncio.get_running_loop()
    if loop not in _publishers:
        _publishers[loop] = Publisher()
    return _publishers[loop]


async def commands_deliver(commands) -> list[int]:
    """Each command published to its box, all side by side; the ids of those that could not be."""
    unsent = await asyncio.gather(*(deliver_one(command) for command in commands))
    return [command_id for command_id in unsent if command_id is not None]


async def deliver_one(command) -> int | None:
    code = command.box.serial
    # Anchored at issue time, as ocpp16.delivery's: the reverse API promised its caller a deadline.
    left = command.created.timestamp() + settings.OCPP_CALL_TIMEOUT - time.time()
    if left <= 0:
        await database_sync_to_async(command_settle, thread_sensitive=False)(command_id=command.pk,
                                                                              outcome=Outcome.timeout())
        return None
    try:
        message_id, request = await request_for(command)
    except CommandInvalid as problem:
        # Valid when issued, but no longer (the tariff it named is gone): nothing is sent.
        await database_sync_to_async(command_settle, thread_sensitive=False)(
            command_id=command.pk, outcome=Outcome.error("PropertyConstraintViolation", problem.message))
        return None
    try:
        sequence_id = await topics.sequence_next()
        data = codec.encode_request(message_id, request, sequence_id)
        sent = bytes_json(data)
        await topics.command_wait(code, sequence_id, command.pk, sent, left + WAITING_MARGIN)
        await publisher().publish(topics.downlink(topics.COMMAND, code), data, 2)
    except Exception:
        log.exception("command %s could not be published to Kotodian box %s", command.pk, code)
        return command.pk
    timer = asyncio.get_running_loop().create_task(expire(command.pk, command.box.pk, code, sequence_id,
                                                          command.action, left))
    _timers.add(timer)  # a task nobody holds may be collected before it runs
    timer.add_done_callback(_timers.discard)
    return None


async def expire(command_id: int, box_pk: int, code: str, sequence_id: int, action: str, after: float) -> None:
    """At the deadline, a command still waiting for its Conf is timed out, and its request
    journaled alone (as an OCPP call no answer settled)."""
    await asyncio.sleep(after)
    try:
        waiting = await topics.command_waiting_take(code, sequence_id)
        if waiting is not None:
            await database_sync_to_async(unanswered, thread_sensitive=False)(command_id, box_pk, action,
                                                                             waiting["sent"])
    except Exception:
        log.exception("command %s: its timeout could not be recorded; the sweep will end it", command_id)


def unanswered(command_id: int, box_pk: int, action: str, sent: str) -> None:
    command_settle(command_id=command_id, outcome=Outcome.timeout())
    journal_record(box=ChargeBox(pk=box_pk), direction=Direction.OUT, protocol=Protocol.KOTODIAN, action=action,
                   payload=sent)


EDGE = CommandEdge(Protocol.KOTODIAN, frozenset(CALLS), command_check, commands_deliver)
