"""The Kotodian edge's entrance: an MQTT client that subscribes the uplink topics (kotodian.topics),
decodes each APDU, submits it to the edge's writers (kotodian.edge) and publishes the answer on the
matching downlink topic once it is committed (write, then acknowledge). A Conf from a box that a
command of ours waits for (kotodian.delivery) settles that command in the same batch.

``python manage.py kotodianbridge`` runs it; it never exits on its own: when the broker goes away it
connects again, waiting longer each time (up to 30 s). Nothing a box sends can stop it: bad input
is answered in the protocol's own terms (DESIGN 3) or journaled and dropped.

Each box's messages are written in the order they arrive, one after another; different boxes' side
by side, so that the writers commit many boxes' messages in one transaction."""

from __future__ import annotations

import asyncio
import logging
import signal

import aiomqtt
from channels.db import database_sync_to_async
from django.conf import settings

from chargers.choices import Direction
from chargers.models import ChargeBox
from chargers.services import box_by_serial
from commands.outcomes import Outcome
from core import gctuning
from core.errors import DomainError
from inbound.edge import Message
from inbound.pipeline import box_mark_read
from kotodian import codec, topics
from kotodian.calls import answer_of
from kotodian.edge import EDGE, writers
from kotodian.errors import CodecError
from kotodian.handlers import WrongRegistrationCode
from kotodian.liveness import bridge_connected
from kotodian.messages import action_name
from kotodian.presence import SWEEP_SECONDS, boxes_silent_release
from kotodian.proto import charger_pb2 as pb
from kotodian.replies import ConfThenRequests
from security import bruteforce
from security.bruteforce import KOTODIAN_REGISTRATION

log = logging.getLogger(__name__)

RECONNECT_MAX = 30.0
# Messages being written at once; more wait for a place (and the broker holds the rest).
IN_FLIGHT_MAX = 2000


def in_thread(function):
    """Database work off the event loop, in a worker thread of its own (as ocpp16.consumer)."""
    return database_sync_to_async(function, thread_sensitive=False)


def conf_outcome(apdu: codec.Apdu) -> Outcome:
    """What a Conf (or a MessageError) says of the command it answers (kotodian.calls: Accepted when
    its status is 0, DESIGN 3)."""
    if apdu.message_id == pb.ID_MessageError:
        return Outcome.error(pb.ErrorCode.Name(apdu.message.error) if apdu.message.error in pb.ErrorCode.values()
                             else str(apdu.message.error), apdu.message.Description or "the box refused the message")
    return Outcome.answered(answer_of(apdu.message_id, apdu.message))


class Bridge:
    def __init__(self):
        self.boxes: dict[str, ChargeBox] = {}  # deviceCode (the serial) -> the box, as a connection holds it
        self.locks: dict[str, list] = {}
        self.in_flight = asyncio.Semaphore(IN_FLIGHT_MAX)
        self.tasks: set[asyncio.Task] = set()
        self.client: aiomqtt.Client | None = None

    async def run(self) -> None:
        """Connect, subscribe, serve; again after every loss of the broker, never giving up."""
        sweeper = asyncio.create_task(self.sweep())
        delay = settings.KOTODIAN_RECONNECT_DELAY
        try:
            while True:
                try:
                    await self.serve()
                except aiomqtt.MqttError as exc:
                    log.warning("Kotodian bridge: the broker at %s went away (%s); again in %.0f s",
                                settings.MQTT_URL, exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RECONNECT_MAX)
                else:
                    delay = settings.KOTODIAN_RECONNECT_DELAY
        finally:
            sweeper.cancel()

    async def serve(self) -> None:
        # A persistent session (clean_session False) under a fixed id would keep QoS 2 messages for
        # us while we reconnect; a fresh id per process is what lets several bridges run side by side.
        identifier = topics.client_id("bridge")
        async with aiomqtt.Client(**topics.broker(), identifier=identifier, clean_session=True,
                                  keepalive=30) as client:
            self.client = client
            for topic, qos in topics.subscriptions():
                await client.subscribe(topic, qos=qos)
            log.info("Kotodian bridge: subscribed at %s", settings.MQTT_URL)
            connected = asyncio.create_task(bridge_connected(identifier))
            try:
                async for mqtt_message in client.messages:
                    await self.in_flight.acquire()
                    task = asyncio.create_task(self.receive(mqtt_message.topic.value, bytes(mqtt_message.payload)))
                    self.tasks.add(task)
                    task.add_done_callback(self.done)
            finally:
                self.client = None
                connected.cancel()

    def done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        self.in_flight.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("Kotodian bridge: a message was lost", exc_info=task.exception())

    async def sweep(self) -> None:
        """Boxes silent for too long are not sent commands (kotodian.presence)."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                released = await in_thread(boxes_silent_release)()
                if released:
                    log.info("Kotodian bridge: %d silent box(es) no longer take commands", released)
            except Exception:
                log.exception("Kotodian bridge: the sweep of silent boxes failed")

    async def receive(self, topic: str, payload: bytes) -> None:
        uplink = topics.uplink_of(topic)
        if uplink is None:
            log.warning("Kotodian bridge: a message on %r, which is not an uplink topic, was dropped", topic)
            return
        # One lock per last segment while it has messages waiting: [lock, how many hold or wait].
        held = self.locks.setdefault(uplink.code, [asyncio.Lock(), 0])
        held[1] += 1
        try:
            async with held[0]:
                await self.handle(uplink, payload)
        finally:
            held[1] -= 1
            if not held[1]:
                del self.locks[uplink.code]

    async def box_of(self, serial: str) -> ChargeBox | None:
        box = self.boxes.get(serial)
        if box is None and serial:
            box = await in_thread(box_by_serial)(serial)
            if box is not None:
                box_mark_read(box)
                self.boxes[serial] = box
        return box

    async def handle(self, uplink: topics.Uplink, payload: bytes) -> None:
        try:
            apdu = codec.decode(payload)
        except CodecError as exc:
            # Answered (EC_NotSupported, EC_ProtocolError) when the sequenceId could be read, and
            # journaled when the box is known; an APDU that is no APDU at all is only journaled.
            box = await self.box_of(uplink.code) if uplink.kind != topics.REGISTRATION else None
            message = Message(EDGE, payload, Direction.IN, action_name(exc.message_id) if exc.message_id else "",
                              box, reference=exc, answers=True, failure=exc)
            return await self.write(uplink, message)
        if not apdu.is_request:
            return await self.answer(uplink, apdu, payload)
        # Registration names the box by its serial; everything else by the deviceCode of its topic.
        serial = apdu.message.serialNumber if apdu.message_id == pb.ID_DeviceRegistrationReq else uplink.code
        box = self.boxes.get(serial) if serial else None
        message = Message(EDGE, payload, Direction.IN, apdu.action, box, request=apdu.message, reference=apdu,
                          answers=True)
        if box is None:
            # Read by the pipeline, a batch's boxes in one query (a reconnect storm brings thousands
            # not held yet); an unknown one is refused there in protocol terms.
            message.serial = serial
        # A registration code is a box's password: guesses are limited as any password's. The
        # sender is the client id of the registration topic, the broker telling no address.
        guarded = apdu.message_id == pb.ID_DeviceRegistrationReq and bool(apdu.message.registrationCode)
        if guarded and (wait := await bruteforce.refused_for_async(KOTODIAN_REGISTRATION, uplink.code, serial)):
            message.fail(DomainError(f"too many wrong registration codes from this client; try again in {wait} s",
                                     field="registrationCode"))
        await self.write(uplink, message)
        if guarded and isinstance(message.failure, WrongRegistrationCode):
            await bruteforce.failure_async(KOTODIAN_REGISTRATION, uplink.code, serial)
        elif guarded and message.failure is None:
            await bruteforce.success_async(KOTODIAN_REGISTRATION, uplink.code, serial)

    async def answer(self, uplink: topics.Uplink, apdu: codec.Apdu, payload: bytes) -> None:
        """A Conf or MessageError from a box: it settles the command waiting for it, if any, and is
        journaled either way (a stray or late answer is only journaled)."""
        box = await self.box_of(uplink.code)
        if box is None:
            log.info("Kotodian bridge: %s from unknown box %r dropped", apdu.name, uplink.code)
            return
        waiting = await topics.command_waiting_take(uplink.code, apdu.sequence_id) \
            if uplink.kind == topics.COMMAND else None
        message = Message(EDGE, payload, Direction.IN, apdu.action, box)
        if waiting is not None:
            message.sent, message.command_id = waiting["sent"], waiting["command_id"]
            message.outcome = conf_outcome(apdu)
        await self.write(uplink, message)

    async def write(self, uplink: topics.Uplink, message: Message) -> None:
        await writers().submit(message)
        box = message.box
        if message.gone and box is not None:
            self.boxes.pop(box.serial, None)  # deleted in the admin meanwhile: read again next time
        elif box is not None and message.serial and box.serial not in self.boxes:
            box_mark_read(box)  # an unknown box that the pipeline found after all (added meanwhile)
            self.boxes[box.serial] = box
        if message.reply is not None:
            await self.publish(uplink.downlink, message.reply, uplink.qos)
        if message.failure is None and isinstance(message.result, ConfThenRequests) and box is not None:
            await self.requests_send(box, message.result.requests)

    async def requests_send(self, box: ChargeBox, requests) -> None:
        """Requests of ours that follow an answer (kotodian.replies): each under a sequenceId of the
        central system's, on the box's command topic, journaled as sent."""
        for message_id, request in requests:
            payload = codec.encode_request(message_id, request, await topics.sequence_next())
            await self.publish(topics.downlink(topics.COMMAND, box.serial), payload, 2)
            await writers().submit(Message(EDGE, payload, Direction.OUT, action_name(message_id), box))

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        client = self.client
        if client is None:
            log.warning("Kotodian bridge: the answer on %s is lost: the broker went away", topic)
            return
        try:
            await client.publish(topic, payload, qos=qos)
        except aiomqtt.MqttError as exc:
            # The box asks again (its request went unanswered); the data is committed already.
            log.warning("Kotodian bridge: the answer on %s is lost: %s", topic, exc)


async def main() -> None:
    bridge = Bridge()
    task = asyncio.create_task(bridge.run())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        log.info("Kotodian bridge: stopped")


def run() -> None:
    # The collector tuned as in the web processes (core.gctuning). With CPython's defaults, under
    # 2,000 Telemetry messages a second a full collection came every 2 s and took 60-95 ms, the
    # writer stopped meanwhile: the ingest's p99 (docs/adr/0028).
    gctuning.tune()
    asyncio.run(main())
