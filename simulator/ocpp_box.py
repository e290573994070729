"""An OCPP 1.6J charge box: boot, status, heartbeats, sessions with meter values, and an answer to
every call a central system can make (OCPP 1.6 §5), each acted on the way a box would.

One ``OcppBox`` is a handful of asyncio tasks and one WebSocket, so one process holds thousands.
"""

from __future__ import annotations

import asyncio
import base64
import ftplib
import hashlib
import io
import itertools
import random
import ssl
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from simulator.stats import Stats

CALL, CALLRESULT, CALLERROR = 2, 3, 4
VENDOR_ID = "com.evchong.simulator"  # DataTransfer to this vendor is echoed back
BUSY = {"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"}
TRIGGERABLE = {
    "BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification", "Heartbeat",
    "MeterValues", "StatusNotification",
}


# FTP transfers are blocking (ftplib): they run here, so a hundred boxes fetch at once without
# holding the event loop. Threads start only as transfers need them.
FTP_POOL = ThreadPoolExecutor(max_workers=128, thread_name_prefix="sim-ftp")
FTP_TIMEOUT = 60.0
# An image made for the simulator names the version it installs on its first line.
SIM_FIRMWARE_MAGIC = b"EVCHONG-SIM-FIRMWARE "


def _ftp_session(url: str, tls: bool) -> tuple[ftplib.FTP, str]:
    """A logged-in FTP (or explicit FTPS) session for ``url`` and the path in it."""
    parts = urlsplit(url)
    if parts.scheme not in ("ftp", "ftps"):
        raise ValueError(f"not an FTP location: {parts.scheme}://")
    if tls or parts.scheme == "ftps":
        # Boxes rarely verify the server: the system's certificate is self-signed by default.
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        session = ftplib.FTP_TLS(context=context, timeout=FTP_TIMEOUT)
    else:
        session = ftplib.FTP(timeout=FTP_TIMEOUT)
    session.connect(parts.hostname, parts.port or 21)
    session.login(unquote(parts.username or "anonymous"), unquote(parts.password or ""))
    if isinstance(session, ftplib.FTP_TLS):
        session.prot_p()  # the data over TLS too
    return session, unquote(parts.path)


def ftp_fetch(url: str, tls: bool = False) -> bytes:
    session, path = _ftp_session(url, tls)
    chunks: list[bytes] = []
    try:
        session.retrbinary(f"RETR {path.lstrip('/')}", chunks.append)
    finally:
        session.close()
    return b"".join(chunks)


def ftp_store(url: str, file_name: str, data: bytes, tls: bool = False) -> None:
    """Upload ``data`` as ``file_name`` into the directory ``url`` names (GetDiagnostics' location)."""
    session, path = _ftp_session(url, tls)
    try:
        if path.strip("/"):
            session.cwd(path)
        session.storbinary(f"STOR {file_name}", io.BytesIO(data))
    finally:
        session.close()


def is_ftp(location: str) -> bool:
    return location.split(":", 1)[0].lower() in ("ftp", "ftps")


TURNED_AWAY = object()  # _connect: the server answered HTTP 503 (admission control), not a failure


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (RFC 9110 §10.2.3); an HTTP date or garbage is ignored."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class BoxSettings:
    url: str  # ws://HOST:PORT/ocpp: the box's id is appended
    connectors: int = 2
    meter_interval: float = 5.0  # MeterValueSampleInterval, seconds
    heartbeat_interval: float | None = None  # None: what BootNotification.conf says
    answer_delay: float = 0.0  # seconds before answering any central-system call
    call_timeout: float = 30.0
    reconnect_min: float = 1.0
    reconnect_max: float = 30.0
    reboot_seconds: float = 1.0  # how long a Reset or a firmware install keeps the box away
    firmware_step: float = 1.0  # seconds between firmware / diagnostics status notifications
    power_w: float = 11000.0
    password: str | None = None
    vendor: str = "EVCHONG"
    model: str = "Simulator"
    firmware_version: str = "sim-1.0"
    # Firmware and diagnostics over FTP (EVCHONG rule 1 h): TLS (explicit, AUTH TLS) on ftp:// too;
    # the MD5 the vendor published for an image file name, checked after the download when known;
    # a failure to play ("download", "install", or "silent": no news after Downloaded).
    ftp_tls: bool = False
    known_md5: dict[str, str] = field(default_factory=dict)
    firmware_fail: str = ""
    diagnostics_bytes: int = 2048
    source_addresses: list[str] = field(default_factory=list)  # spread sockets over 127.0.0.x


class CallFailed(Exception):
    """A call of ours got no usable answer; already counted in the stats."""


@dataclass
class Connector:
    id: int
    status: str = "Available"
    operative: bool = True
    transaction_id: int | None = None
    id_tag: str = ""
    meter_wh: float = 0.0  # the register; whole Wh go on the wire
    reservation_id: int | None = None
    reservation_tag: str = ""
    pending_availability: bool | None = None  # ChangeAvailability Scheduled: applied after the session
    meter_task: asyncio.Task | None = None
    metering: bool = False  # a MeterValues call is out
    profiles: dict[int, dict] = field(default_factory=dict)


class OcppBox:
    def __init__(self, serial: str, id_tag: str, settings: BoxSettings, stats: Stats, stop: asyncio.Event,
                 index: int = 0):
        self.serial, self.id_tag, self.settings, self.stats, self.stop = serial, id_tag, settings, stats, stop
        self.index = index
        self.connectors = {
            i: Connector(i, meter_wh=random.randrange(0, 10**7)) for i in range(1, settings.connectors + 1)
        }
        self.ws = None
        self.retry_after: float | None = None  # from the last HTTP 503's Retry-After
        self.online = asyncio.Event()
        self.ready = asyncio.Event()  # booted (Accepted) and status reported, on the current connection
        self.booted_once = asyncio.Event()
        self.must_boot = True  # power-on or reboot: BootNotification before anything else
        self.rebooting = False
        self.boot_status = ""
        self.firmware_version = settings.firmware_version
        self.firmware_status = "Idle"
        self.diagnostics_status = "Idle"
        self.after_boot: list[str] = []  # FirmwareStatusNotification statuses owed once booted again
        self.firmware_problem = ""  # why the last download or upload failed, in the box's words
        self.heartbeat_interval = settings.heartbeat_interval or 60.0
        self.local_list_version = 0
        self.local_list: dict[str, dict] = {}
        self.configuration = {
            # key: (value, read-only)
            "HeartbeatInterval": [str(int(self.heartbeat_interval)), False],
            "MeterValueSampleInterval": [str(int(settings.meter_interval)), False],
            "MeterValuesSampledData": [
                "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage", False],
            "NumberOfConnectors": [str(settings.connectors), True],
            "AuthorizeRemoteTxRequests": ["false", False],
            "LocalAuthListEnabled": ["true", False],
            "LocalAuthListMaxLength": ["1000", True],
            "SupportedFeatureProfiles": [
                "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger", True],
            "ConnectionTimeOut": ["60", False],
        }
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future] = {}
        self._call_lock = asyncio.Lock()  # OCPP-J 1.6 §4.1.1: one CALL of ours unanswered at a time
        self._tasks: set[asyncio.Task] = set()  # follow-ups of answered calls (a start after RemoteStart)
        self._last_sent = 0.0

    # -- the connection ------------------------------------------------------------------------

    async def run(self, behaviour: Callable[["OcppBox"], Awaitable[None]] | None = None) -> None:
        """Stay connected until ``stop`` is set: connect, boot, report, then ``behaviour`` (once),
        reconnecting with jittered back-off whenever the connection is lost."""
        attempt = 0
        behaviour_task = None
        heartbeat_task = None
        while not self.stop.is_set():
            connected = await self._connect()
            if connected is TURNED_AWAY:
                # Turned away by admission control: the server said when to come back. Not a
                # failure, so the exponential back-off does not grow.
                await self.pause(self._busy_backoff())
                continue
            if not connected:
                attempt += 1
                await self.pause(self._backoff(attempt))
                continue
            attempt = 0
            reader = asyncio.create_task(self._read())
            try:
                if self.must_boot and not await self._boot():
                    continue
                await self._report_status()
                self.ready.set()
                self.stats.ready += 1
                self.booted_once.set()
                for status in self.after_boot:
                    await self._firmware_status(status)
                self.after_boot.clear()
                if heartbeat_task is None:
                    heartbeat_task = asyncio.create_task(self._heartbeats())
                if behaviour is not None and behaviour_task is None:
                    behaviour_task = asyncio.create_task(behaviour(self))
                await self._until_closed_or_stopped(reader)
            except CallFailed:
                pass  # the connection went, or the central system stopped answering: start over
            finally:
                if self.ready.is_set():
                    self.ready.clear()
                    self.stats.ready -= 1
                await self._disconnect(reader)
            if self.rebooting:
                self.rebooting = False
                await self.pause(self.settings.reboot_seconds)
            elif not self.stop.is_set():
                self.stats.events["connection lost"] += 1
                attempt += 1
                await self.pause(self._backoff(attempt))
        for task in (behaviour_task, heartbeat_task, *self._tasks,
                     *(c.meter_task for c in self.connectors.values())):
            if task is not None:
                task.cancel()

    def _backoff(self, attempt: int) -> float:
        # Full jitter: boxes that lost the central system together must not come back together.
        cap = min(self.settings.reconnect_max, self.settings.reconnect_min * 2 ** min(attempt, 10))
        return random.uniform(self.settings.reconnect_min / 2, cap)

    def _busy_backoff(self) -> float:
        # Retry-After, jittered upwards: boxes turned away together must not all return together,
        # and none before the server asked.
        retry = self.retry_after if self.retry_after is not None else self.settings.reconnect_max
        return max(retry, self.settings.reconnect_min) * random.uniform(1.0, 2.0)

    async def pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except TimeoutError:
            pass

    async def _connect(self) -> bool | object:
        """True when connected; TURNED_AWAY when the server answered HTTP 503 (it is busy and says, in
        Retry-After, when to come back: ``retry_after``); False on any other failure, counted."""
        headers = {}
        if self.settings.password is not None:
            token = base64.b64encode(f"{self.serial}:{self.settings.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        extra = {}
        if self.settings.source_addresses:
            extra["local_addr"] = (self.settings.source_addresses[self.index % len(self.settings.source_addresses)], 0)
        started, t = self.stats.now(), time.perf_counter()
        try:
            self.ws = await connect(
                f"{self.settings.url}/{self.serial}",
                subprotocols=["ocpp1.6"],
                additional_headers=headers,
                # Real boxes rarely negotiate compression, and per-connection zlib state would
                # cost more memory than everything else a connection holds.
                compression=None,
                # The central system pings; a box's own pings would only add load.
                ping_interval=None,
                open_timeout=self.settings.call_timeout,
                close_timeout=2,
                max_size=2**20,
                # Not looked up in the environment on every connect (a twentieth of a storm's CPU).
                proxy=None,
                **extra,
            )
        except InvalidStatus as exc:
            if exc.response.status_code == 503:
                self.retry_after = retry_after(exc.response.headers.get("Retry-After"))
                self.stats.turned_away()
                return TURNED_AWAY
            self.stats.error("connect", f"HTTP {exc.response.status_code}")
            return False
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            self.stats.error("connect", type(exc).__name__)
            return False
        if self.ws.subprotocol != "ocpp1.6":
            self.stats.error("connect", "no ocpp1.6 subprotocol")
            await self.ws.close()
            return False
        self.stats.record("connect", started, time.perf_counter() - t)
        self.online.set()
        self.stats.online += 1
        return True

    async def _disconnect(self, reader: asyncio.Task) -> None:
        if self.online.is_set():
            self.online.clear()
            self.stats.online -= 1
        await self.ws.close()
        reader.cancel()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionClosed(None, None))

    async def _until_closed_or_stopped(self, reader: asyncio.Task) -> None:
        stopper = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait([reader, stopper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()

    async def reboot(self) -> None:
        """Power-cycle: sessions end, the connection closes, the box boots again."""
        for connector in self.connectors.values():
            if connector.transaction_id is not None:
                await self.stop_session(connector.id, "SoftReset")
        self.must_boot = self.rebooting = True
        if self.ws is not None:
            await self.ws.close()

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                try:
                    message = orjson.loads(text)
                    kind, unique_id = message[0], message[1]
                except (orjson.JSONDecodeError, TypeError, IndexError, KeyError):
                    self.stats.error("frame", "unparseable frame from the central system")
                    continue
                if kind == CALL:
                    payload = message[3] if len(message) > 3 else {}
                    self._spawn(self._answer(unique_id, message[2], payload))
                elif kind in (CALLRESULT, CALLERROR):
                    future = self._pending.get(unique_id)
                    if future is not None and not future.done():
                        future.set_result(message)
                    else:
                        # An answer after we gave up on it (counted then as a time-out).
                        self.stats.events["late answer"] += 1
        except ConnectionClosed:
            pass

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settled(self) -> None:
        """Wait until every follow-up of answered calls (a started session, a firmware update) is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- calls from the box ---------------------------------------------------------------------

    async def call(self, action: str, payload: dict, *, before_ready: bool = False) -> dict:
        """Send a CALL and return the CALLRESULT payload; raises CallFailed (already counted).

        A call waits until the box is back and booted, as a box's offline queue would hold it;
        only the boot sequence itself (``before_ready``) goes out on a bare connection."""
        gate = self.online if before_ready else self.ready
        while True:
            await self._wait_for(gate, action)
            async with self._call_lock:
                if gate.is_set():  # still, now that the lock is ours
                    return await self._exchange(action, payload)

    async def _exchange(self, action: str, payload: dict) -> dict:
        unique_id = str(next(self._ids))
        future = asyncio.get_running_loop().create_future()
        self._pending[unique_id] = future
        started, t = self.stats.now(), time.perf_counter()
        self.stats.in_flight += 1
        try:
            await self.ws.send(orjson.dumps([CALL, unique_id, action, payload]).decode())
            self._last_sent = time.monotonic()
            answer = await asyncio.wait_for(future, self.settings.call_timeout)
        except TimeoutError:
            self.stats.error(action, "no answer in time")
            raise CallFailed(action) from None
        except ConnectionClosed:
            if not self.stop.is_set():  # closed by the end of the run is no fault of the server's
                self.stats.error(action, "connection closed")
            raise CallFailed(action) from None
        finally:
            self._pending.pop(unique_id, None)
            self.stats.in_flight -= 1
        if answer[0] == CALLERROR:
            self.stats.error(action, f"CALLERROR {answer[2]}: {str(answer[3])[:80]}")
            raise CallFailed(action)
        self.stats.record(action, started, time.perf_counter() - t)
        return answer[2]

    async def _wait_for(self, event: asyncio.Event, action: str) -> None:
        if event.is_set():
            return
        waiters = [asyncio.create_task(event.wait()), asyncio.create_task(self.stop.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        if not event.is_set():
            raise CallFailed(action)

    async def _boot(self) -> bool:
        """BootNotification until Accepted (OCPP 1.6 §4.2: Pending and Rejected retry after interval)."""
        payload = {
            "chargePointVendor": self.settings.vendor, "chargePointModel": self.settings.model,
            "chargePointSerialNumber": self.serial[-25:], "firmwareVersion": self.firmware_version,
            "meterType": "SIM-METER",
        }
        while not self.stop.is_set():
            answer = await self.call("BootNotification", payload, before_ready=True)
            self.boot_status = answer.get("status", "")
            if self.settings.heartbeat_interval is None and answer.get("interval"):
                self.heartbeat_interval = float(answer["interval"])
                self.configuration["HeartbeatInterval"][0] = str(answer["interval"])
            if self.boot_status == "Accepted":
                self.must_boot = False
                return True
            self.stats.events[f"boot {self.boot_status or 'unanswered'}"] += 1
            await self.pause(max(float(answer.get("interval") or 10), 1.0))
        return False

    async def _report_status(self) -> None:
        # OCPP 1.6 §4.9: after boot, the status of the box (connector 0) and of every connector.
        operative = any(c.operative for c in self.connectors.values())
        await self.status_notification(0, "Available" if operative else "Unavailable", before_ready=True)
        for connector in self.connectors.values():
            await self.status_notification(connector.id, connector.status, before_ready=True)

    async def status_notification(self, connector_id: int, status: str, error_code: str = "NoError",
                                  before_ready: bool = False) -> None:
        if connector_id in self.connectors:
            self.connectors[connector_id].status = status
        await self.call("StatusNotification", {
            "connectorId": connector_id, "status": status, "errorCode": error_code, "timestamp": iso_now(),
        }, before_ready=before_ready)

    async def _set_status(self, connector: Connector, status: str) -> None:
        connector.status = status
        await self.status_notification(connector.id, status)

    async def _heartbeats(self) -> None:
        # First beat at a random point of the interval, so that boxes booted together spread out.
        await asyncio.sleep(random.uniform(0, self.heartbeat_interval))
        while not self.stop.is_set():
            # A box that has just sent something need not say it is alive as well.
            if self.ready.is_set() and time.monotonic() - self._last_sent >= self.heartbeat_interval * 0.9:
                try:
                    await self.call("Heartbeat", {})
                except CallFailed:
                    pass
            await asyncio.sleep(self.heartbeat_interval)

    # -- sessions -------------------------------------------------------------------------------

    def free_connector(self) -> Connector | None:
        return next((c for c in self.connectors.values() if c.status == "Available" and c.operative), None)

    async def start_session(self, connector_id: int, id_tag: str | None = None, *, remote: bool = False) -> int | None:
        """Plug in and start (OCPP 1.6 §4.8): Preparing, Authorize (not for a remote start unless
        AuthorizeRemoteTxRequests), StartTransaction, Charging, then MeterValues every interval."""
        connector = self.connectors[connector_id]
        id_tag = id_tag or self.id_tag
        try:
            await self._set_status(connector, "Preparing")
            if not remote or self.configuration["AuthorizeRemoteTxRequests"][0] == "true":
                info = (await self.call("Authorize", {"idTag": id_tag}))["idTagInfo"]
                if info["status"] != "Accepted":
                    self.stats.events[f"authorize {info['status']}"] += 1
                    await self._set_status(connector, "Available")
                    return None
            payload = {"connectorId": connector_id, "idTag": id_tag, "meterStart": int(connector.meter_wh),
                       "timestamp": iso_now()}
            if connector.reservation_id is not None and connector.reservation_tag == id_tag:
                payload["reservationId"] = connector.reservation_id
                connector.reservation_id = None
            answer = await self.call("StartTransaction", payload)
        except CallFailed:
            # The box cannot tell whether it started: it gives the connector back.
            connector.status = "Available"
            return None
        connector.transaction_id, connector.id_tag = answer["transactionId"], id_tag
        self.stats.charging += 1
        if answer["idTagInfo"]["status"] != "Accepted":
            # OCPP 1.6 §5.11 StopTransactionOnInvalidId: the box ends a session the central system refused.
            self.stats.events[f"start {answer['idTagInfo']['status']}"] += 1
            await self.stop_session(connector_id, "DeAuthorized")
            return None
        try:
            await self._set_status(connector, "Charging")
        except CallFailed:
            pass
        connector.meter_task = asyncio.create_task(self._meter_values(connector))
        return connector.transaction_id

    async def stop_session(self, connector_id: int, reason: str = "Local") -> None:
        connector = self.connectors[connector_id]
        if connector.transaction_id is None:
            return
        if connector.meter_task is not None and not connector.metering:
            # Only while it sleeps: cancelled mid-call, its answer would arrive for nobody.
            connector.meter_task.cancel()
        connector.meter_task = None
        transaction_id, connector.transaction_id = connector.transaction_id, None
        self.stats.charging -= 1
        try:
            await self._set_status(connector, "Finishing")
            await self.call("StopTransaction", {
                "transactionId": transaction_id, "meterStop": int(connector.meter_wh), "timestamp": iso_now(),
                "idTag": connector.id_tag, "reason": reason,
                "transactionData": [{"timestamp": iso_now(), "sampledValue": [
                    {"value": str(int(connector.meter_wh)), "context": "Transaction.End",
                     "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}],
            })
            if connector.pending_availability is not None:
                connector.operative, connector.pending_availability = connector.pending_availability, None
            await self._set_status(connector, "Available" if connector.operative else "Unavailable")
        except CallFailed:
            connector.status = "Available" if connector.operative else "Unavailable"

    async def _meter_values(self, connector: Connector) -> None:
        interval = float(self.configuration["MeterValueSampleInterval"][0]) or self.settings.meter_interval
        # A random phase: sessions that started together do not sample together.
        await asyncio.sleep(random.uniform(0, interval))
        # A meter samples on its clock, every interval, however long the last report took to be
        # answered (a late answer delays only the send of the next sample, as OCPP-J allows one
        # CALL in flight): sleeping an interval after each answer instead would make the rate a
        # fleet offers depend on the answer time it measures.
        due = time.monotonic()
        while connector.transaction_id is not None and not self.stop.is_set():
            connector.metering = True
            try:
                await self.send_meter_values(connector)
            except CallFailed:
                pass
            finally:
                connector.metering = False
            due += interval
            await asyncio.sleep(max(due - time.monotonic(), 0))

    async def send_meter_values(self, connector: Connector, context: str = "Sample.Periodic") -> None:
        power = self.settings.power_w * random.uniform(0.95, 1.0)
        interval = float(self.configuration["MeterValueSampleInterval"][0]) or self.settings.meter_interval
        if connector.transaction_id is not None:
            connector.meter_wh += power * interval / 3600
        payload = {"connectorId": connector.id, "meterValue": [{"timestamp": iso_now(), "sampledValue": [
            {"value": str(int(connector.meter_wh)), "context": context, "measurand": "Energy.Active.Import.Register",
             "location": "Outlet", "unit": "Wh"},
            {"value": f"{power:.1f}", "context": context, "measurand": "Power.Active.Import", "unit": "W"},
            {"value": f"{power / 690:.2f}", "context": context, "measurand": "Current.Import", "phase": "L1",
             "unit": "A"},
            {"value": f"{random.uniform(228, 232):.1f}", "context": context, "measurand": "Voltage",
             "phase": "L1-N", "unit": "V"},
        ]}]}
        if connector.transaction_id is not None:
            payload["transactionId"] = connector.transaction_id
        await self.call("MeterValues", payload)

    async def _firmware_status(self, status: str) -> None:
        self.firmware_status = status
        await self.call("FirmwareStatusNotification", {"status": status})

    # -- calls from the central system (OCPP 1.6 §5) ----------------------------------------------

    async def _answer(self, unique_id: str, action: str, payload: dict) -> None:
        self.stats.calls_answered[action] += 1
        if self.settings.answer_delay:
            await asyncio.sleep(self.settings.answer_delay)
        handler = getattr(self, f"on_{action}", None)
        follow_up = None
        if handler is None:
            frame = [CALLERROR, unique_id, "NotImplemented", f"{action} is not a call this box knows", {}]
        else:
            try:
                result, follow_up = handler(payload)
                frame = [CALLRESULT, unique_id, result]
            except (KeyError, TypeError, ValueError) as exc:
                frame = [CALLERROR, unique_id, "FormationViolation", f"{action}: {exc!r}"[:200], {}]
        try:
            await self.ws.send(orjson.dumps(frame).decode())
        except ConnectionClosed:
            self.stats.error(f"answer {action}", "connection closed")
            if follow_up is not None:
                follow_up.close()
            return
        if follow_up is not None:
            # After the answer is on the wire: a box answers RemoteStart before it starts.
            try:
                await follow_up
            except CallFailed:
                pass

    def _connector(self, payload: dict, key: str = "connectorId") -> Connector | None:
        return self.connectors.get(payload.get(key))

    def on_Reset(self, payload):
        if payload["type"] not in ("Hard", "Soft"):
            raise ValueError("type")
        return {"status": "Accepted"}, self.reboot()

    def on_RemoteStartTransaction(self, payload):
        id_tag = payload["idTag"]
        connector = self._connector(payload) if "connectorId" in payload else self.free_connector()
        if connector is None or not connector.operative:
            return {"status": "Rejected"}, None
        reserved_for_other = connector.status == "Reserved" and connector.reservation_tag != id_tag
        if connector.status not in ("Available", "Reserved") or reserved_for_other:
            return {"status": "Rejected"}, None
        # Taken at once, so that a second remote start racing this one is refused by the box too.
        connector.status = "Preparing"
        return {"status": "Accepted"}, self.start_session(connector.id, id_tag, remote=True)

    def on_RemoteStopTransaction(self, payload):
        connector = next((c for c in self.connectors.values() if c.transaction_id == payload["transactionId"]), None)
        if connector is None:
            return {"status": "Rejected"}, None
        return {"status": "Accepted"}, self.stop_session(connector.id, "Remote")

    def on_ChangeConfiguration(self, payload):
        key, value = payload["key"], payload["value"]
        if key not in self.configuration:
            return {"status": "NotSupported"}, None
        if self.configuration[key][1]:
            return {"status": "Rejected"}, None
        if key in ("HeartbeatInterval", "MeterValueSampleInterval"):
            if not value.isdigit() or int(value) < 1:
                return {"status": "Rejected"}, None
            if key == "HeartbeatInterval":
                self.heartbeat_interval = float(value)
        self.configuration[key][0] = value
        return {"status": "Accepted"}, None

    def on_GetConfiguration(self, payload):
        keys = payload.get("key") or list(self.configuration)
        known = [{"key": k, "readonly": self.configuration[k][1], "value": self.configuration[k][0]}
                 for k in keys if k in self.configuration]
        answer = {"configurationKey": known}
        unknown = [k for k in keys if k not in self.configuration]
        if unknown:
            answer["unknownKey"] = unknown
        return answer, None

    def on_TriggerMessage(self, payload):
        message = payload["requestedMessage"]
        if message not in TRIGGERABLE:
            return {"status": "NotImplemented"}, None
        connector_id = payload.get("connectorId")
        if connector_id is not None and connector_id != 0 and connector_id not in self.connectors:
            return {"status": "Rejected"}, None
        return {"status": "Accepted"}, self._triggered(message, connector_id)

    async def _triggered(self, message: str, connector_id: int | None) -> None:
        # OCPP 1.6 §5.17: the triggered message follows the answer.
        targets = [self.connectors[connector_id]] if connector_id else list(self.connectors.values())
        if message == "BootNotification":
            answer = await self.call("BootNotification", {
                "chargePointVendor": self.settings.vendor, "chargePointModel": self.settings.model,
                "firmwareVersion": self.firmware_version})
            self.boot_status = answer.get("status", self.boot_status)
        elif message == "Heartbeat":
            await self.call("Heartbeat", {})
        elif message == "StatusNotification":
            if connector_id == 0:
                await self.status_notification(0, "Available")
            for connector in targets:
                await self.status_notification(connector.id, connector.status)
        elif message == "MeterValues":
            for connector in targets:
                await self.send_meter_values(connector, context="Trigger")
        elif message == "FirmwareStatusNotification":
            await self.call("FirmwareStatusNotification", {"status": self.firmware_status})
        elif message == "DiagnosticsStatusNotification":
            await self.call("DiagnosticsStatusNotification", {"status": self.diagnostics_status})

    def on_UnlockConnector(self, payload):
        connector = self._connector(payload)
        if connector is None:
            return {"status": "NotSupported"}, None
        # Unlocking a connector in use ends its session first (OCPP 1.6 §5.18).
        follow_up = self.stop_session(connector.id, "UnlockCommand") if connector.transaction_id else None
        return {"status": "Unlocked"}, follow_up

    def on_ChangeAvailability(self, payload):
        operative = {"Operative": True, "Inoperative": False}[payload["type"]]
        connector_id = payload["connectorId"]
        if connector_id != 0 and connector_id not in self.connectors:
            return {"status": "Rejected"}, None
        targets = list(self.connectors.values()) if connector_id == 0 else [self.connectors[connector_id]]
        busy = [c for c in targets if c.transaction_id is not None]
        for connector in busy:
            connector.pending_availability = operative  # OCPP 1.6 §5.2: after the session
        idle = [c for c in targets if c.transaction_id is None]
        for connector in idle:
            connector.operative = operative
        status = "Scheduled" if busy else "Accepted"
        return {"status": status}, self._availability_reported(idle, operative, connector_id == 0)

    async def _availability_reported(self, connectors: list[Connector], operative: bool, whole_box: bool) -> None:
        word = "Available" if operative else "Unavailable"
        if whole_box:
            await self.status_notification(0, word)
        for connector in connectors:
            if connector.status != word and connector.status not in BUSY:
                await self._set_status(connector, word)

    def on_ClearCache(self, payload):
        return {"status": "Accepted"}, None

    def on_DataTransfer(self, payload):
        if payload["vendorId"] != VENDOR_ID:
            return {"status": "UnknownVendorId"}, None
        return {"status": "Accepted", "data": payload.get("data", "")}, None

    def on_UpdateFirmware(self, payload):
        retrieve = datetime.fromisoformat(payload["retrieveDate"])
        if not payload["location"]:
            raise ValueError("location")
        return {}, self._update_firmware(payload["location"], retrieve)

    async def _update_firmware(self, location: str, retrieve: datetime) -> None:
        # Wait for retrieveDate, but never longer than a simulated minute: runs are bounded.
        wait = min(max((retrieve - datetime.now(UTC)).total_seconds(), 0), 60)
        await self.pause(wait)
        await self._firmware_status("Downloading")
        new_version = f"{self.settings.firmware_version}+1"
        if is_ftp(location):
            image = await self._fetch(location)
            if image is None:
                await self._firmware_status("DownloadFailed")
                return
            if image.startswith(SIM_FIRMWARE_MAGIC):
                new_version = image[len(SIM_FIRMWARE_MAGIC):].split(b"\n", 1)[0].decode(errors="replace").strip()
        # Any other scheme: this box has no HTTP client; the image is taken as fetched.
        await self.pause(self.settings.firmware_step)
        if self.settings.firmware_fail == "download":
            await self._firmware_status("DownloadFailed")
            return
        await self._firmware_status("Downloaded")
        if self.settings.firmware_fail == "silent":
            return  # a box that hangs: the central system hears no more of this update
        await self.pause(self.settings.firmware_step)
        await self._firmware_status("Installing")
        await self.pause(self.settings.firmware_step)
        if self.settings.firmware_fail == "install":
            await self._firmware_status("InstallationFailed")
            return
        # The new firmware runs after a reboot, and the box says so once booted (OCPP 1.6 §6.29).
        self.firmware_version = new_version
        self.after_boot.append("Installed")
        await self.reboot()

    async def _fetch(self, location: str) -> bytes | None:
        """The image over FTP or FTPS, its MD5 checked when the vendor published one; None: failed."""
        started = time.perf_counter()
        try:
            image = await asyncio.get_running_loop().run_in_executor(
                FTP_POOL, ftp_fetch, location, self.settings.ftp_tls)
        except (OSError, EOFError, ftplib.Error, ValueError) as exc:
            self.firmware_problem = f"download: {exc}"[:200]
            self.stats.events["firmware download failed"] += 1
            return None
        self.stats.events["firmware bytes"] += len(image)
        self.stats.events["firmware downloads"] += 1
        self.stats.events["firmware download ms"] += int((time.perf_counter() - started) * 1000)
        name = unquote(urlsplit(location).path).rsplit("/", 1)[-1]
        expected = self.settings.known_md5.get(name)
        if expected and hashlib.md5(image, usedforsecurity=False).hexdigest() != expected.lower():
            self.firmware_problem = f"checksum: MD5 of {name} is not {expected}"
            self.stats.events["firmware checksum mismatch"] += 1
            return None
        return image

    def on_GetDiagnostics(self, payload):
        if not payload["location"]:
            raise ValueError("location")
        file_name = f"{self.serial}-{int(time.time())}.log"
        return {"fileName": file_name}, self._upload_diagnostics(payload["location"], file_name)

    def diagnostics_content(self) -> bytes:
        lines = [f"{iso_now()} {self.serial} firmware {self.firmware_version} connectors "
                 + " ".join(f"{c.id}:{c.status}" for c in self.connectors.values())]
        body = "\n".join(lines).encode() + b"\n"
        filler = self.settings.diagnostics_bytes - len(body)
        return body + (b"#" * (filler - 1) + b"\n" if filler > 1 else b"")

    async def _upload_diagnostics(self, location: str, file_name: str) -> None:
        await self.pause(self.settings.firmware_step)
        await self._diagnostics_status("Uploading")
        if is_ftp(location):
            try:
                await asyncio.get_running_loop().run_in_executor(
                    FTP_POOL, ftp_store, location, file_name, self.diagnostics_content(), self.settings.ftp_tls)
            except (OSError, EOFError, ftplib.Error, ValueError) as exc:
                self.firmware_problem = f"upload: {exc}"[:200]
                self.stats.events["diagnostics upload failed"] += 1
                await self._diagnostics_status("UploadFailed")
                return
        else:
            await self.pause(self.settings.firmware_step)  # no client for it: taken as uploaded
        await self._diagnostics_status("Uploaded")

    async def _diagnostics_status(self, status: str) -> None:
        self.diagnostics_status = status
        await self.call("DiagnosticsStatusNotification", {"status": status})

    def on_SendLocalList(self, payload):
        version, update = payload["listVersion"], payload["updateType"]
        entries = payload.get("localAuthorizationList") or []
        if update == "Differential" and version <= self.local_list_version:
            return {"status": "VersionMismatch"}, None
        if update == "Full":
            self.local_list = {}
        for entry in entries:
            if "idTagInfo" in entry:
                self.local_list[entry["idTag"]] = entry["idTagInfo"]
            else:
                self.local_list.pop(entry["idTag"], None)
        self.local_list_version = version
        return {"status": "Accepted"}, None

    def on_GetLocalListVersion(self, payload):
        return {"listVersion": self.local_list_version}, None

    def on_ReserveNow(self, payload):
        connector = self._connector(payload)
        if connector is None:
            return {"status": "Rejected"}, None
        if connector.status == "Faulted":
            return {"status": "Faulted"}, None
        if not connector.operative:
            return {"status": "Unavailable"}, None
        if connector.status != "Available":
            return {"status": "Occupied"}, None
        connector.reservation_id, connector.reservation_tag = payload["reservationId"], payload["idTag"]
        return {"status": "Accepted"}, self._set_status(connector, "Reserved")

    def on_CancelReservation(self, payload):
        connector = next((c for c in self.connectors.values() if c.reservation_id == payload["reservationId"]), None)
        if connector is None:
            return {"status": "Rejected"}, None
        connector.reservation_id, connector.reservation_tag = None, ""
        follow_up = self._set_status(connector, "Available") if connector.status == "Reserved" else None
        return {"status": "Accepted"}, follow_up

    def on_SetChargingProfile(self, payload):
        profile = payload["csChargingProfiles"]
        connector_id = payload["connectorId"]
        targets = list(self.connectors.values()) if connector_id == 0 else [self.connectors.get(connector_id)]
        if None in targets:
            return {"status": "Rejected"}, None
        # OCPP 1.6 §5.16: a TxProfile needs a session on the connector.
        if profile["chargingProfilePurpose"] == "TxProfile" and (
            connector_id == 0 or targets[0].transaction_id is None
        ):
            return {"status": "Rejected"}, None
        for connector in targets:
            connector.profiles[profile["chargingProfileId"]] = profile
        return {"status": "Accepted"}, None

    def on_ClearChargingProfile(self, payload):
        removed = 0
        for connector in self.connectors.values():
            if payload.get("connectorId") not in (None, 0, connector.id):
                continue
            for profile_id, profile in list(connector.profiles.items()):
                if (payload.get("id") in (None, profile_id)
                        and payload.get("chargingProfilePurpose") in (None, profile["chargingProfilePurpose"])
                        and payload.get("stackLevel") in (None, profile["stackLevel"])):
                    del connector.profiles[profile_id]
                    removed += 1
        return {"status": "Accepted" if removed else "Unknown"}, None

    def on_GetCompositeSchedule(self, payload):
        connector_id, duration = payload["connectorId"], payload["duration"]
        if connector_id != 0 and connector_id not in self.connectors:
            return {"status": "Rejected"}, None
        unit = payload.get("chargingRateUnit", "A")
        profiles = [p for c in self.connectors.values() if connector_id in (0, c.id) for p in c.profiles.values()]
        if profiles:
            # The highest stack level wins (OCPP 1.6 §3.13.2); its first period is what applies now.
            top = max(profiles, key=lambda p: p["stackLevel"])
            periods = top["chargingSchedule"]["chargingSchedulePeriod"]
            unit = top["chargingSchedule"]["chargingRateUnit"]
        else:
            periods = [{"startPeriod": 0, "limit": 32.0 if unit == "A" else 22000.0}]
        return {
            "status": "Accepted", "connectorId": connector_id, "scheduleStart": iso_now(),
            "chargingSchedule": {"duration": duration, "chargingRateUnit": unit,
                                 "chargingSchedulePeriod": periods},
        }, None
