"""Boxes that keep a ledger: every message the system acknowledged, so that what it stored can be
counted against it after a fault (lost: acknowledged, not stored; duplicated: stored twice).

A ledger box charges in a loop: StartTransaction, meter samples, StopTransaction. Each register
reading is unique to its box, so a stored sample names the one message it came from. A message
that got no answer (the connection dropped, a CALLERROR) is counted as sent, not acknowledged, and
is not sent again: the ledger measures the system, not a box's retry policy.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

CALL, CALLRESULT, CALLERROR = 2, 3, 4
PERIODIC = "Sample.Periodic"


class NoAnswer(Exception):
    """The box's call ended without a CALLRESULT."""


@dataclass
class Entry:
    """One acknowledged message: what the system must have stored once."""

    kind: str  # start, sample, stop, command
    box: str
    key: int  # the register reading in Wh (start, sample, stop); the command's sequence number
    phase: str  # the fault under way when it was sent
    transaction_id: int | None = None


@dataclass
class Ledger:
    phase: str = "steady"
    sent: Counter = field(default_factory=Counter)  # (phase, kind) -> messages sent
    acknowledged: list[Entry] = field(default_factory=list)
    # Commands as the boxes saw them: sequence number -> times delivered.
    delivered: Counter = field(default_factory=Counter)
    # Boxes that drop their connection instead of answering the next command they get.
    hang_up: set = field(default_factory=set)

    def send(self, kind: str) -> str:
        self.sent[(self.phase, kind)] += 1
        return self.phase


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LedgerBox:
    """One OCPP 1.6J box on one WebSocket; reconnects (with back-off) whenever the connection goes."""

    def __init__(self, serial: str, id_tag: str, url: str, ledger: Ledger, stop: asyncio.Event, *, samples: int = 4,
                 interval: float = 0.25):
        self.serial, self.id_tag, self.url, self.ledger, self.stop = serial, id_tag, url, ledger, stop
        self.samples, self.interval = samples, interval
        # Start far apart per box and never go back: a reading identifies a message for good.
        self.register = 1_000_000
        self.ids = itertools.count(1)
        self.ws = None
        self.pending: dict[str, asyncio.Future] = {}

    async def run(self) -> None:
        attempt = 0
        while not self.stop.is_set():
            try:
                async with connect(f"{self.url}/{self.serial}", subprotocols=["ocpp1.6"], compression=None,
                                   ping_interval=None, open_timeout=10, close_timeout=1, proxy=None) as ws:
                    self.ws = ws
                    reader = asyncio.create_task(self._read())
                    try:
                        await self.call("BootNotification", {"chargePointVendor": "EVCHONG", "chargePointModel": "Ledger"})
                        attempt = 0
                        while not self.stop.is_set():
                            await self._session()
                    finally:
                        reader.cancel()
                        self._fail_pending()
            except (OSError, InvalidHandshake, ConnectionClosed, NoAnswer, TimeoutError):
                pass
            attempt += 1
            await self._sleep(min(0.2 * 2 ** min(attempt, 4), 3))

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except TimeoutError:
            pass

    async def _session(self) -> None:
        self.register += 1000
        phase = self.ledger.send("start")
        answer = await self.call("StartTransaction", {"connectorId": 1, "idTag": self.id_tag,
                                                      "meterStart": self.register, "timestamp": now_iso()})
        transaction_id = answer["transactionId"]
        self.ledger.acknowledged.append(Entry("start", self.serial, self.register, phase, transaction_id))
        for _ in range(self.samples):
            await self._sleep(self.interval)
            self.register += 10
            phase = self.ledger.send("sample")
            await self.call("MeterValues", {"connectorId": 1, "transactionId": transaction_id, "meterValue": [{
                "timestamp": now_iso(), "sampledValue": [{
                    "value": str(self.register), "context": PERIODIC,
                    "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]})
            self.ledger.acknowledged.append(Entry("sample", self.serial, self.register, phase, transaction_id))
        self.register += 10
        phase = self.ledger.send("stop")
        await self.call("StopTransaction", {"transactionId": transaction_id, "meterStop": self.register,
                                            "timestamp": now_iso(), "reason": "Local"})
        self.ledger.acknowledged.append(Entry("stop", self.serial, self.register, phase, transaction_id))

    async def call(self, action: str, payload: dict, timeout: float = 30) -> dict:
        unique_id = f"{self.serial}-{next(self.ids)}"
        future = asyncio.get_running_loop().create_future()
        self.pending[unique_id] = future
        try:
            await self.ws.send(orjson.dumps([CALL, unique_id, action, payload]).decode())
            kind, answer = await asyncio.wait_for(future, timeout)
        except (ConnectionClosed, TimeoutError) as exc:
            raise NoAnswer(action) from exc
        finally:
            self.pending.pop(unique_id, None)
        if kind != CALLRESULT:
            raise NoAnswer(f"{action}: {answer}")
        return answer

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                message = orjson.loads(text)
                if message[0] == CALL:
                    await self._answer(message[1], message[2], message[3])
                elif message[1] in self.pending and not self.pending[message[1]].done():
                    self.pending[message[1]].set_result((message[0], message[2]))
        except ConnectionClosed:
            pass
        finally:
            self._fail_pending()

    def _fail_pending(self) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_result((CALLERROR, "connection closed"))

    async def _answer(self, unique_id: str, action: str, payload: dict) -> None:
        """Commands from the system: ChangeConfiguration of ``ChaosSeq`` carries a command's sequence
        number, counted as delivered; everything else is accepted. A box in ``hang_up`` goes away
        instead of answering, as a box whose connection drops mid-command."""
        if action == "ChangeConfiguration" and payload.get("key") == "ChaosSeq":
            self.ledger.delivered[int(payload["value"])] += 1
            if self.serial in self.ledger.hang_up:
                self.ledger.hang_up.discard(self.serial)
                await self.ws.close()  # run() connects again
                return
        await self.ws.send(orjson.dumps([CALLRESULT, unique_id, {"status": "Accepted"}]).decode())


async def probe(url: str, serial: str, id_tag: str, deadline: float) -> float | None:
    """Seconds until a box new to the connection boots, starts and stops a session; None when it
    could not before ``deadline`` (monotonic)."""
    started = time.monotonic()
    stop = asyncio.Event()
    box = LedgerBox(serial, id_tag, url, Ledger(phase="probe"), stop, samples=0)
    while time.monotonic() < deadline:
        try:
            async with connect(f"{url}/{serial}", subprotocols=["ocpp1.6"], compression=None, ping_interval=None,
                               open_timeout=5, close_timeout=1, proxy=None) as ws:
                box.ws = ws
                reader = asyncio.create_task(box._read())
                try:
                    await box.call("BootNotification", {"chargePointVendor": "EVCHONG", "chargePointModel": "Probe"},
                                   timeout=5)
                    await asyncio.wait_for(box._session(), 10)
                    return time.monotonic() - started
                finally:
                    reader.cancel()
        except (OSError, InvalidHandshake, ConnectionClosed, NoAnswer, TimeoutError):
            await asyncio.sleep(0.25)
    return None


async def kotodian_probe(broker: tuple[str, int, str, str], serial: str, deadline: float) -> float | None:
    """Seconds until a Kotodian box registers over MQTT (DeviceRegistrationReq on /U/R, status 0 on
    /D/R) with the registration account ``broker`` = (host, port, username, password); None when it
    could not before ``deadline`` (monotonic)."""
    import aiomqtt

    from kotodian import codec
    from kotodian.proto import charger_pb2 as pb

    started = time.monotonic()
    host, port, username, password = broker
    client_id = f"KT100-{serial}"
    request = codec.encode_request(pb.ID_DeviceRegistrationReq, pb.DeviceRegistrationReq(
        partNumber="KT100", serialNumber=serial, vendorId="Kotodian"), 1)
    while time.monotonic() < deadline:
        try:
            async with aiomqtt.Client(host, port, identifier=client_id, username=username, password=password,
                                      timeout=5) as client:
                await client.subscribe(f"/D/R/{client_id}", qos=2)
                await client.publish(f"/U/R/{client_id}", request, qos=2)
                async with asyncio.timeout(5):
                    async for message in client.messages:
                        answer = codec.decode(bytes(message.payload))
                        if answer.message_id == pb.ID_DeviceRegistrationConf and answer.message.status == 0:
                            return time.monotonic() - started
        except (aiomqtt.MqttError, OSError, TimeoutError):
            pass
        await asyncio.sleep(0.25)
    return None
