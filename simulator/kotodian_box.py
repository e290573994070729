"""A charge box that speaks Kotodian (protobuf APDUs over MQTT, DESIGN 3 "Kotodian over MQTT") on a
real MQTT client (aiomqtt), with the same face to the scenarios as ``OcppBox``: ``run``, ``ready``,
``connectors``, ``start_session``, ``stop_session``, ``settled``.

A box registers once (DeviceRegistrationReq with its serial on /U/R/{clientId}), takes the deviceCode
and, when the Conf hands it some, its own MQTT username and password (it connects with them from then
on; anonymously otherwise), boots on /U/C/{deviceCode}, reports its connectors and heartbeats. Every
request of the system's on /D/C/{deviceCode} is answered with its Conf, status 0, and acted on where a
box would act (a remote start starts a session, a reset reboots). Offline (``go_offline``), a box
keeps charging and keeps the orders of the sessions that end meanwhile; back, it uploads them
(TransactionReq, one recordId each). A refusal (MessageError, or a Conf whose status is not 0) is
counted as an error and the box goes on."""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import aiomqtt
import paho.mqtt.client as paho
from google.protobuf.message import Message

from kotodian import codec
from kotodian.errors import CodecError
from kotodian.messages import REPLY_CLASSES, REPLY_IDS
from kotodian.proto import charger_pb2 as pb
from simulator.ocpp_box import Connector
from simulator.stats import Stats

PART_NUMBER = "SIMKT"
VENDOR_ID = "EVCHONG-SIM"
# DESIGN 3's connectorState table.
STATES = {"Unavailable": 0, "Available": 1, "Occupied": 2, "Reserved": 3, "Faulted": 4, "Preparing": 5,
          "Charging": 6, "SuspendedEV": 7, "SuspendedEVSE": 8, "Finishing": 9}
# The meter messages a session sends, one per interval, in turn.
METER_KINDS = ("Telemetry", "MeterValues", "ChargingInfo")
# measure.proto's codes for what Telemetry carries: Electricity (kWh), PowerWatts, Voltage, Current.
ELECTRICITY, POWER_W, VOLTAGE, CURRENT = 134, 104, 101, 103
# paho leaves Nagle's algorithm on, and a QoS 2 exchange is small packets that would wait for delayed ACKs.
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


def broker_of(url: str) -> tuple[str, int, str | None, str | None]:
    """(host, port, user, password) of mqtt://[user:password@]host:port."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"the broker must be mqtt://[user:password@]host:port, not {url!r}")
    return (parts.hostname or "127.0.0.1", parts.port or 1883,
            unquote(parts.username) if parts.username else None, unquote(parts.password) if parts.password else None)


@dataclass
class KotodianSettings:
    broker: str = "mqtt://127.0.0.1:1883"
    connectors: int = 2
    meter_interval: float = 5.0
    heartbeat_interval: float | None = None  # None: what BootNotificationConf says
    answer_delay: float = 0.0
    call_timeout: float = 30.0
    registration_code: str = ""  # the password given to addbox, if any
    topic_prefix: str = ""
    meter_kinds: tuple[str, ...] = METER_KINDS
    reconnect_min: float = 1.0
    reconnect_max: float = 30.0
    reboot_seconds: float = 1.0
    firmware_step: float = 1.0
    firmware_version: str = "sim-1.0"
    power_w: float = 11000.0


def kotodian_settings(options) -> KotodianSettings:
    """The settings of a fleet from the simulator's options (simulator.scenarios.Options)."""
    return KotodianSettings(
        broker=options.broker, connectors=options.connectors, meter_interval=options.meter_interval,
        heartbeat_interval=options.heartbeat, answer_delay=options.answer_delay, call_timeout=options.call_timeout,
        registration_code=options.password or "",
    )


class StampingClient(aiomqtt.Client):
    """aiomqtt's client whose ``publish_stamped`` also says when paho's on_publish fired: for QoS 0
    when paho wrote the packet to the socket (the message left the box), for QoS 2 the broker's
    PUBCOMP. aiomqtt's own publish returns a turn of the event loop after that, and a turn of a
    loop that runs thousands of boxes is tens of milliseconds the box took, not the system."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._published_at: dict[int, float] = {}  # paho's message id -> when on_publish fired

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._published_at[mid] = time.monotonic()
        super()._on_publish(client, userdata, mid, reason_code, properties)

    async def publish_stamped(self, topic: str, payload: bytes, qos: int, timeout: float) -> float:
        """aiomqtt 2.5.1's publish (pinned in pyproject.toml), keeping paho's message id to find the
        stamp by; returns when the message left (CLOCK_MONOTONIC)."""
        info = self._client.publish(topic, payload, qos)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        if not info.is_published():
            confirmation = asyncio.Event()
            with self._pending_call(info.mid, confirmation, self._pending_publishes):
                await self._wait_for(confirmation.wait(), timeout=timeout)
        # Never missing once on_publish fired; the default only keeps a surprise out of the box's task.
        return self._published_at.pop(info.mid, None) or time.monotonic()


class CallFailed(Exception):
    """No accepted answer (already counted in the stats)."""


class Refused(CallFailed):
    """The system answered, and said no: a MessageError, or a Conf whose status is not 0."""


@dataclass
class Order:
    """A session that ended while the box was offline, owed to the system as a TransactionReq."""

    record_id: int
    transaction_id: str
    connector_id: int
    id_tag: str
    meter_start_kwh: float
    meter_stop_kwh: float
    time_start: int
    time_stop: int


@dataclass
class KotodianConnector(Connector):
    record_id: int = 0
    meter_start_kwh: float = 0.0
    time_start: int = 0
    kinds: itertools.cycle | None = field(default=None, repr=False)


class KotodianBox:
    def __init__(self, serial: str, id_tag: str, settings: KotodianSettings, stats: Stats, stop: asyncio.Event,
                 index: int = 0):
        self.serial, self.id_tag, self.settings, self.stats, self.stop = serial, id_tag, settings, stats, stop
        self.index = index
        self.client_id = f"{PART_NUMBER}-{serial}"
        self.host, self.port, self.username, self.password = broker_of(settings.broker)
        self.device_code = ""  # from DeviceRegistrationConf
        self.connectors = {i: KotodianConnector(i, meter_wh=random.randrange(0, 10**7))
                           for i in range(1, settings.connectors + 1)}
        self.client: StampingClient | None = None
        self.online = asyncio.Event()
        self.ready = asyncio.Event()  # registered, booted (status 0) and connectors reported
        self.boot_status = ""  # "Accepted" or "Rejected", as OcppBox's
        self.heartbeat_interval = settings.heartbeat_interval or 60.0
        self.firmware_version = settings.firmware_version
        self.orders: list[Order] = []
        self.alarms: set[int] = set()
        self.records = itertools.count(index * 1_000_000 + 1)  # recordIds: increasing, this box's own
        self._sequence = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._tasks: set[asyncio.Task] = set()
        self._leave = asyncio.Event()  # ends the current connection (offline, reboot)
        self._offline_until = 0.0
        self._behaviour = None
        self._behaviour_task: asyncio.Task | None = None
        self._attempts = 0  # connections since the box was last ready

    # -- topics ---------------------------------------------------------------------------------

    def uplink(self, kind: str) -> str:
        last = self.client_id if kind == "R" else self.device_code
        return f"{self.settings.topic_prefix}/U/{kind}/{last}"

    def downlink(self, kind: str) -> str:
        last = self.client_id if kind == "R" else self.device_code
        return f"{self.settings.topic_prefix}/D/{kind}/{last}"

    # -- the connection -------------------------------------------------------------------------

    async def run(self, behaviour: Callable[["KotodianBox"], Awaitable[None]] | None = None) -> None:
        """Stay on the broker until ``stop`` is set: connect, register (once), boot, report, then
        ``behaviour`` (once); again after every loss of the broker, offline spell or reboot."""
        self._behaviour = behaviour
        while not self.stop.is_set():
            if (wait := self._offline_until - time.monotonic()) > 0:
                await self.pause(wait)
                continue
            try:
                async with StampingClient(self.host, self.port, identifier=self.client_id, username=self.username,
                                          password=self.password, clean_session=True, keepalive=60,
                                          timeout=self.settings.call_timeout,
                                          socket_options=NO_DELAY) as client:
                    if await self._session(client):
                        continue  # new credentials: connect again with them at once
            except aiomqtt.MqttError as exc:
                if self.stop.is_set():
                    break
                self.stats.error("connect", type(exc).__name__)
            except CallFailed:
                pass
            finally:
                self._drop_connection()
            if not self.stop.is_set() and not self._leave.is_set():
                # Jittered and growing until the box is booted again: boxes that lost the broker
                # together must not all come back together.
                self._attempts += 1
                await self.pause(min(self.settings.reconnect_min * 2 ** (self._attempts - 1),
                                     self.settings.reconnect_max) * random.uniform(0.5, 1.0))
            self._leave.clear()
        for task in (self._behaviour_task, *self._tasks, *(c.meter_task for c in self.connectors.values())):
            if task is not None:
                task.cancel()

    async def _session(self, client: aiomqtt.Client) -> bool:
        """One connection; True when it ended to reconnect with the credentials registration gave."""
        self.client = client
        self.online.set()
        self.stats.online += 1
        reader = asyncio.create_task(self._read(client))
        try:
            if not self.device_code:
                await client.subscribe(self.downlink("R"), qos=2)
                credentials = (self.username, self.password)
                if not await self._register():
                    return False
                if (self.username, self.password) != credentials:
                    return True
                await client.unsubscribe(self.downlink("R"))
            # Only the command downlink: the system publishes on /D/M only to refuse a telemetry
            # message it cannot read, which this box never sends, and a broker's work grows with
            # the subscriptions it holds (amqtt matches every message against every one of them).
            await client.subscribe(self.downlink("C"), qos=2)
            if not await self._boot():
                return False
            await self._report_status()
            self._attempts = 0
            self.ready.set()
            self.stats.ready += 1
            beats = asyncio.create_task(self._heartbeats())
            try:
                await self._upload_orders()
                if self._behaviour is not None and self._behaviour_task is None:
                    self._behaviour_task = asyncio.create_task(self._behaviour(self))
                await self._until_left(reader)
            finally:
                beats.cancel()
        finally:
            reader.cancel()
            if self.ready.is_set():
                self.ready.clear()
                self.stats.ready -= 1
        return False

    async def _until_left(self, reader: asyncio.Task) -> None:
        waits = [asyncio.create_task(self.stop.wait()), asyncio.create_task(self._leave.wait())]
        try:
            await asyncio.wait([reader, *waits], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        if reader.done() and not reader.cancelled() and reader.exception() is not None:
            raise reader.exception()

    def _drop_connection(self) -> None:
        if self.online.is_set():
            self.online.clear()
            self.stats.online -= 1
        self.client = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CallFailed("the connection went away"))
        self._pending.clear()

    async def pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except TimeoutError:
            pass

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settled(self) -> None:
        """Wait until every follow-up of answered requests (a started session, a reboot) is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def go_offline(self, seconds: float) -> None:
        """Leave the broker for ``seconds``: sessions go on, and those that end meanwhile become orders."""
        self._offline_until = time.monotonic() + seconds
        self._leave.set()
        while self.online.is_set():
            await asyncio.sleep(0.01)

    # -- messages ---------------------------------------------------------------------------------

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                apdu = codec.decode(bytes(message.payload))
            except CodecError as exc:
                self.stats.error("receive", f"undecodable APDU: {exc.reason[:60]}")
                continue
            if apdu.is_request:
                self._spawn(self._answer(apdu))
                continue
            future = self._pending.pop(apdu.sequence_id, None)
            if future is not None and not future.done():
                future.set_result(apdu)

    async def publish(self, kind: str, data: bytes) -> float:
        """When the message left (StampingClient.publish_stamped)."""
        client = self.client
        if client is None:
            raise CallFailed("offline")
        return await client.publish_stamped(self.uplink(kind), data, qos=0 if kind == "M" else 2,
                                            timeout=self.settings.call_timeout)

    async def call(self, action: str, message_id: int, message: Message, *, kind: str = "C",
                   before_ready: bool = False) -> Message:
        """A request and its Conf; CallFailed (counted) for no answer, a MessageError or a status
        other than 0. Waits for the box to be back and booted, as a box's queue would."""
        gate = self.online if before_ready else self.ready
        while not gate.is_set():
            if self.stop.is_set():
                raise CallFailed("stopped")
            await asyncio.sleep(0.05)
        sequence_id = next(self._sequence)
        future = asyncio.get_running_loop().create_future()
        self._pending[sequence_id] = future
        started, t = self.stats.now(), time.perf_counter()
        self.stats.in_flight += 1
        try:
            await self.publish(kind, codec.encode_request(message_id, message, sequence_id))
            reply = await asyncio.wait_for(future, self.settings.call_timeout)
        except TimeoutError:
            self.stats.error(action, "timeout")
            raise CallFailed(action) from None
        except aiomqtt.MqttError as exc:
            self.stats.error(action, type(exc).__name__)
            raise CallFailed(action) from None
        except CallFailed:
            self.stats.error(action, "connection lost")
            raise
        finally:
            self.stats.in_flight -= 1
            self._pending.pop(sequence_id, None)
        if reply.message_id == pb.ID_MessageError:
            error = reply.message
            name = pb.ErrorCode.Name(error.error) if error.error in pb.ErrorCode.values() else str(error.error)
            self.stats.error(action, f"MessageError {name}")
            raise Refused(action)
        self.stats.record(action, started, time.perf_counter() - t)
        if getattr(reply.message, "status", 0) != 0 and "status" in reply.message.DESCRIPTOR.fields_by_name:
            self.stats.error(action, f"status {reply.message.status}")
            raise Refused(action)
        return reply.message

    async def send(self, action: str, message_id: int, message: Message, kind: str = "M") -> None:
        """A request that has no reply (telemetry): published and counted, its latency the box's own
        publish delay, from the call until the message left (what the system saw of it starts there)."""
        called = time.monotonic()
        try:
            left = await self.publish(kind, codec.encode_request(message_id, message, next(self._sequence)))
        except (aiomqtt.MqttError, CallFailed) as exc:
            self.stats.error(action, type(exc).__name__)
            return
        self.stats.record(action, called - self.stats.t0, left - called)

    # -- registration, boot, status, heartbeat ----------------------------------------------------

    async def _register(self) -> bool:
        try:
            conf = await self.call("DeviceRegistration", pb.ID_DeviceRegistrationReq, pb.DeviceRegistrationReq(
                partNumber=PART_NUMBER, serialNumber=self.serial, vendorId=VENDOR_ID,
                registrationCode=self.settings.registration_code, connectorNumber=list(self.connectors),
                firmwareVersion=self.firmware_version,
            ), kind="R", before_ready=True)
        except Refused:
            self.boot_status = "Rejected"
            await self.pause(self.settings.reconnect_max)  # refused: not again at once
            return False
        except CallFailed:
            return False  # no answer: again, after the back-off
        self.device_code = conf.deviceCode or self.serial
        if conf.mqttUsername:
            # The box's own credentials (the private broker takes a box only with them).
            self.username, self.password = conf.mqttUsername, conf.mqttPassword
        return True

    async def _boot(self) -> bool:
        try:
            conf = await self.call("BootNotification", pb.ID_BootNotificationReq, pb.BootNotificationReq(
                partNumber=PART_NUMBER, serialNumber=self.serial, vendorId=VENDOR_ID,
                firmwareVersion=self.firmware_version, deviceCode=self.device_code, protocol="kotodian",
            ), before_ready=True)
        except Refused:
            self.boot_status = "Rejected"
            await self.pause(self.heartbeat_interval)  # as OCPP's Rejected: not before the interval
            return False
        except CallFailed:
            return False
        self.boot_status = "Accepted"
        if not self.settings.heartbeat_interval and conf.interval > 0:
            self.heartbeat_interval = float(conf.interval)
        return True

    async def status_notification(self, connector_id: int, state: str, *, before_ready: bool = True) -> None:
        await self.call("StatusNotification", pb.ID_StatusNotificationReq, pb.StatusNotificationReq(
            connectorId=str(connector_id), connectorState=STATES[state]), before_ready=before_ready)

    async def _set_status(self, connector: KotodianConnector, state: str) -> None:
        connector.status = state
        if self.online.is_set():
            await self.status_notification(connector.id, state)

    async def _report_status(self) -> None:
        for connector in self.connectors.values():
            await self.status_notification(connector.id, connector.status)

    async def heartbeat(self) -> None:
        await self.call("Heartbeat", pb.ID_HeartbeatReq, pb.HeartbeatReq(currentTime=int(time.time())))

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval * random.uniform(0.9, 1.0))
            try:
                await self.heartbeat()
            except CallFailed:
                pass

    # -- sessions -------------------------------------------------------------------------------

    def free_connector(self) -> KotodianConnector | None:
        return next((c for c in self.connectors.values() if c.status == "Available" and c.operative), None)

    def id_token(self, id_tag: str) -> pb.IdToken:
        return pb.IdToken(id=id_tag)

    async def start_session(self, connector_id: int, id_tag: str | None = None, *, remote: bool = False,
                            transaction_id: str = "") -> int | None:
        """Plug in and start: Preparing, Authorize (not for a remote start), StartTransaction,
        Charging, then a meter message every interval."""
        connector = self.connectors[connector_id]
        id_tag = id_tag or self.id_tag
        try:
            await self._set_status(connector, "Preparing")
            if not remote:
                conf = await self.call("Authorize", pb.ID_AuthorizeReq, pb.AuthorizeReq(IdData=self.id_token(id_tag)))
                if conf.idInfo.status != pb.AS_Accepted:
                    self.stats.events[f"authorize {pb.AuthorizationStatus.Name(conf.idInfo.status)}"] += 1
                    await self._set_status(connector, "Available")
                    return None
            record = str(next(self.records))
            # Times are whole seconds, and a start at the same second on the same connector with the
            # same card is the system's sign of a replay: a new session starts in a later second.
            while int(time.time()) <= connector.time_start:
                await asyncio.sleep(0.05)
            now = int(time.time())
            conf = await self.call("StartTransaction", pb.ID_StartTransactionReq, pb.StartTransactionReq(
                recordId=record, connectorId=str(connector_id), IdData=self.id_token(id_tag),
                meterStart=self.kwh(connector), timestamp=now, transactionId=transaction_id,
            ))
        except CallFailed:
            connector.status = "Available"
            return None
        connector.transaction_id, connector.id_tag = int(conf.transactionId), id_tag
        connector.record_id, connector.meter_start_kwh, connector.time_start = int(record), self.kwh(connector), now
        self.stats.charging += 1
        if conf.idInfo.status != pb.AS_Accepted:
            self.stats.events[f"start {pb.AuthorizationStatus.Name(conf.idInfo.status)}"] += 1
            await self.stop_session(connector_id, pb.SR_Other)
            return None
        try:
            await self._set_status(connector, "Charging")
        except CallFailed:
            pass
        connector.kinds = itertools.cycle(self.settings.meter_kinds)
        connector.meter_task = asyncio.create_task(self._meter(connector))
        return connector.transaction_id

    @staticmethod
    def kwh(connector: KotodianConnector) -> float:
        return round(connector.meter_wh / 1000, 3)

    async def stop_session(self, connector_id: int, reason: int = pb.SR_Normal) -> None:
        """Stop: StopTransaction while online; offline, the session becomes an order to upload."""
        connector = self.connectors[connector_id]
        if connector.transaction_id is None:
            return
        if connector.meter_task is not None and not connector.metering:
            connector.meter_task.cancel()
        connector.meter_task = None
        transaction_id, connector.transaction_id = connector.transaction_id, None
        self.stats.charging -= 1
        now = int(time.time())
        if not self.ready.is_set():
            self.orders.append(Order(connector.record_id, str(transaction_id), connector_id, connector.id_tag,
                                     connector.meter_start_kwh, self.kwh(connector), connector.time_start, now))
            connector.status = "Available"
            return
        try:
            await self._set_status(connector, "Finishing")
            await self.call("StopTransaction", pb.ID_StopTransactionReq, pb.StopTransactionReq(
                recordId=str(connector.record_id), transactionId=str(transaction_id),
                IdData=self.id_token(connector.id_tag), reason=reason, meterStop=self.kwh(connector), timestamp=now,
                connectorId=str(connector_id),
            ))
            await self._set_status(connector, "Available" if connector.operative else "Unavailable")
        except CallFailed:
            connector.status = "Available" if connector.operative else "Unavailable"

    async def _meter(self, connector: KotodianConnector) -> None:
        interval = self.settings.meter_interval
        await asyncio.sleep(random.uniform(0, interval))  # sessions that started together do not sample together
        while connector.transaction_id is not None:
            power = self.settings.power_w * random.uniform(0.95, 1.0)
            connector.meter_wh += power * interval / 3600
            if self.ready.is_set():
                connector.metering = True
                try:
                    await self.send_meter(connector, next(connector.kinds), power)
                finally:
                    connector.metering = False
            await asyncio.sleep(interval)

    async def send_meter(self, connector: KotodianConnector, kind: str, power_w: float) -> None:
        """One meter message of ``kind``: Telemetry (measurand codes), MeterValues or ChargingInfo (fields)."""
        voltage = random.uniform(228, 232)
        current = power_w / voltage / 3
        if kind == "Telemetry":
            await self.send("Telemetry", pb.ID_TelemetryReq, pb.TelemetryReq(
                component=pb.CP_Connector, connectorId=str(connector.id), recordId=str(connector.record_id),
                values=[pb.SampledValue(measurand=ELECTRICITY, value=self.kwh(connector)),
                        pb.SampledValue(measurand=POWER_W, value=round(power_w, 1)),
                        pb.SampledValue(measurand=VOLTAGE, value=round(voltage, 1)),
                        pb.SampledValue(measurand=CURRENT, value=round(current, 2))]))
        elif kind == "MeterValues":
            await self.send("MeterValues", pb.ID_MeterValuesReq, pb.MeterValuesReq(
                connectorId=str(connector.id), transactionId=str(connector.transaction_id),
                timestamp=int(time.time()), electricity=self.kwh(connector), currentA=round(current, 2),
                voltageA=round(voltage, 1), power=round(power_w / 1000, 3), soc=random.randint(20, 80)))
        else:
            await self.send("ChargingInfo", pb.ID_ChargingInfoReq, pb.ChargingInfoReq(
                recordId=str(connector.record_id), connectorId=str(connector.id), currentA=round(current, 2),
                voltageA=round(voltage, 1), power=round(power_w / 1000, 3), timestamp=int(time.time()),
                electricity=self.kwh(connector), status=pb.CHS_Charging, soc=random.randint(20, 80)))

    async def _upload_orders(self) -> None:
        """The orders of sessions that ended offline, each once (TransactionReq, by recordId); a
        refused one is counted and dropped, one without an answer kept for the next time."""
        while self.orders and self.ready.is_set():
            order = self.orders[0]
            try:
                await self.call("Transaction", pb.ID_TransactionReq, pb.TransactionReq(
                    recordId=str(order.record_id), transactionId=order.transaction_id,
                    connectorId=str(order.connector_id), IdData=self.id_token(order.id_tag),
                    meterStart=order.meter_start_kwh, meterStop=order.meter_stop_kwh, timeStart=order.time_start,
                    timeStop=order.time_stop, reason=pb.SR_OffLine))
            except CallFailed:
                if not self.ready.is_set():
                    return
                self.orders.pop(0)
                self.stats.events["offline orders refused"] += 1
                continue
            self.orders.pop(0)
            self.stats.events["offline orders uploaded"] += 1

    # -- alarms ---------------------------------------------------------------------------------

    async def alarm(self, code: int, *, level: int = pb.WL_Warning, component: int = pb.CP_System,
                    connector_id: int = 0, ttl: int = -1, clean: bool = False, info: str = "") -> bool:
        """Raise (or, ``clean``, clear) alarm ``code`` (warning.proto's Warnings); True when accepted."""
        try:
            await self.call("Warning", pb.ID_WarningReq, pb.WarningReq(
                code=code, level=level, component=component, connectorId=str(connector_id) if connector_id else "",
                ttl=ttl, time=int(time.time()), clean=clean, info=info))
        except CallFailed:
            return False
        (self.alarms.discard if clean else self.alarms.add)(code)
        return True

    # -- requests from the system -----------------------------------------------------------------

    async def _answer(self, request: codec.Apdu) -> None:
        """Every request of the system's gets its Conf, status 0 where the Conf has one, then the box
        does what it said it would."""
        if self.settings.answer_delay:
            await asyncio.sleep(self.settings.answer_delay)
        reply_class = REPLY_CLASSES.get(REPLY_IDS.get(request.message_id))
        if reply_class is None or not request.expects_reply:
            return
        conf = reply_class()
        if "status" in conf.DESCRIPTOR.fields_by_name and conf.DESCRIPTOR.fields_by_name["status"].enum_type is None:
            conf.status = 0
        follow_up = self._follow_up(request, conf)
        try:
            await self.publish("C", codec.encode_reply(request, conf))
        except (aiomqtt.MqttError, CallFailed) as exc:
            self.stats.error(f"answer {request.action}", type(exc).__name__)
            return
        self.stats.calls_answered[request.action] += 1
        if follow_up is not None:
            await follow_up

    def _follow_up(self, request: codec.Apdu, conf: Message):
        """What the box does once it has answered (a coroutine), filling ``conf`` as it goes."""
        message = request.message
        if request.message_id == pb.ID_RemoteStartTransactionReq:
            connector_id = int(message.connectorId) if message.connectorId.isdigit() else 1
            connector = self.connectors.get(connector_id)
            if connector is None or connector.transaction_id is not None or connector.status != "Available":
                return None
            connector.status = "Preparing"  # taken: a second remote start finds it busy
            return self.start_session(connector_id, message.IdData.id or self.id_tag, remote=True,
                                      transaction_id=message.transactionId)
        if request.message_id == pb.ID_RemoteStopTransactionReq:
            for connector in self.connectors.values():
                if str(connector.transaction_id) == message.transactionId:
                    return self.stop_session(connector.id, pb.SR_RemoteUser)
            return None
        if request.message_id == pb.ID_RemoteControlReq and message.function == "Reset":
            return self.reboot()
        if request.message_id == pb.ID_UpdateFirmwareReq:
            return self._update_firmware()
        if request.message_id == pb.ID_GetTransactionsReq:
            conf.totalCount = len(self.orders)
            return self._upload_orders()
        if request.message_id == pb.ID_GetWarningReq:
            conf.totalCount = len(self.alarms)
            return None
        if request.message_id == pb.ID_TriggerMessageReq:
            if message.request == pb.ID_HeartbeatReq:
                return self._quietly(self.heartbeat())
            if message.request == pb.ID_StatusNotificationReq:
                return self._quietly(self._report_status())
            if message.request == pb.ID_BootNotificationReq:
                return self._boot()
        return None

    @staticmethod
    async def _quietly(call) -> None:
        try:
            await call
        except CallFailed:
            pass

    async def reboot(self) -> None:
        """A reset: sessions end (reason Reboot), the box leaves the broker and comes back, booting again."""
        for connector in self.connectors.values():
            await self.stop_session(connector.id, pb.SR_Reboot)
        await self.go_offline(self.settings.reboot_seconds)

    async def _update_firmware(self) -> None:
        for status in (pb.FW_Downloading, pb.FW_Downloaded, pb.FW_Installing, pb.FW_Installed):
            await self.pause(self.settings.firmware_step)
            try:
                await self.call("FirmwareStatusNotification", pb.ID_FirmwareStatusNotificationReq,
                                pb.FirmwareStatusNotificationReq(status=status))
            except CallFailed:
                return
        self.firmware_version = f"{self.settings.firmware_version}+1"
        await self.reboot()
