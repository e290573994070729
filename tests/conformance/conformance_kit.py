"""The conformance suite's clients: an `ocpp` library ChargePoint run from synchronous tests, and a
plain HTTP client. Nothing here knows the server's code."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http.client import HTTPConnection
from urllib.parse import quote

import websockets
from ocpp.exceptions import OCPPError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result

# OCPP-J 1.6 §3.? and §4: RFC 3339 date-times with at most three fractional digits.
OCPP_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?(Z|[+-]\d\d:\d\d)$")


def iso(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    assert OCPP_DATE_TIME.match(text), f"{text!r} is not an OCPP-J date-time"
    return datetime.fromisoformat(text)


# What the box answers to each Central-System call unless a test says otherwise: a function of the
# call's payload (camelCase, as received) returning a call_result, or None for a box that stays silent.
DEFAULT_ANSWERS = {
    "CancelReservation": lambda p: call_result.CancelReservation(status="Accepted"),
    "ChangeAvailability": lambda p: call_result.ChangeAvailability(status="Accepted"),
    "ChangeConfiguration": lambda p: call_result.ChangeConfiguration(status="Accepted"),
    "ClearCache": lambda p: call_result.ClearCache(status="Accepted"),
    "ClearChargingProfile": lambda p: call_result.ClearChargingProfile(status="Accepted"),
    "DataTransfer": lambda p: call_result.DataTransfer(status="Accepted", data="pong"),
    "GetCompositeSchedule": lambda p: call_result.GetCompositeSchedule(
        status="Accepted", connector_id=p["connectorId"], schedule_start="2026-03-01T10:00:00Z",
        charging_schedule={"duration": p["duration"], "chargingRateUnit": "A", "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 21.4, "numberPhases": 3}, {"startPeriod": 1800, "limit": 6.1}]},
    ),
    "GetConfiguration": lambda p: call_result.GetConfiguration(
        configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
        unknown_key=[k for k in p.get("key", []) if k != "HeartbeatInterval"] or None,
    ),
    "GetDiagnostics": lambda p: call_result.GetDiagnostics(file_name="diagnostics-20260301.tar.gz"),
    "GetLocalListVersion": lambda p: call_result.GetLocalListVersion(list_version=3),
    "RemoteStartTransaction": lambda p: call_result.RemoteStartTransaction(status="Accepted"),
    "RemoteStopTransaction": lambda p: call_result.RemoteStopTransaction(status="Accepted"),
    "ReserveNow": lambda p: call_result.ReserveNow(status="Accepted"),
    "Reset": lambda p: call_result.Reset(status="Accepted"),
    "SendLocalList": lambda p: call_result.SendLocalList(status="Accepted"),
    "SetChargingProfile": lambda p: call_result.SetChargingProfile(status="Accepted"),
    "TriggerMessage": lambda p: call_result.TriggerMessage(status="Accepted"),
    "UnlockConnector": lambda p: call_result.UnlockConnector(status="Unlocked"),
    "UpdateFirmware": lambda p: call_result.UpdateFirmware(),
}


class LibraryBox(ChargePoint):
    """An OCPP 1.6J charge point built on the `ocpp` library. ``received`` lists every CALL from the
    central system that passed the library's schema check, ``refused`` those that did not."""

    def __init__(self, *args, answers: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.answers = {**DEFAULT_ANSWERS, **answers}
        self.received: list[tuple[str, dict]] = []
        self.refused: list[tuple[str, dict, str]] = []
        self._current = None

    async def _handle_call(self, msg):
        if msg.action in self.answers and self.answers[msg.action] is None:
            self.received.append((msg.action, msg.payload))  # a silent box: no answer at all
            return None
        # As received: the library turns some numbers into Decimals while it validates them.
        self._current = copy.deepcopy(msg.payload)
        try:
            return await super()._handle_call(msg)
        except OCPPError as error:
            self.refused.append((msg.action, msg.payload, f"{error.code}: {error.description} {error.details}"))
            raise

    def _answer(self, action: str):
        self.received.append((action, self._current))
        return self.answers[action](self._current)


def _handler(action: str):
    def handle(self, **_):
        return self._answer(action)

    # The library finds handlers by the name they have when decorated.
    handle.__name__ = f"on_{action}"
    return on(action)(handle)


for _action in DEFAULT_ANSWERS:
    setattr(LibraryBox, f"on_{_action}", _handler(_action))


class BoxClient:
    """A LibraryBox on its own event loop in a thread, driven synchronously from a test."""

    def __init__(self, url: str, serial: str, *, password: str | None = None, answers: dict | None = None):
        self.url = url + quote(serial, safe="")
        self.serial = serial
        self.password = password
        self.answers = answers or {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.cp: LibraryBox | None = None
        self.ws = None
        self.reader = None

    def run(self, coroutine, timeout: float = 20):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def open(self) -> BoxClient:
        self.thread.start()
        self.run(self._open())
        return self

    async def _open(self):
        headers = {}
        if self.password is not None:
            token = base64.b64encode(f"{self.serial}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self.ws = await websockets.connect(self.url, subprotocols=["ocpp1.6"], additional_headers=headers,
                                           open_timeout=10, close_timeout=2, proxy=None)
        assert self.ws.subprotocol == "ocpp1.6"
        self.cp = LibraryBox(self.serial, self.ws, answers=self.answers, response_timeout=15)
        self.reader = self.loop.create_task(self._serve())

    async def _serve(self):
        try:
            await self.cp.start()
        except websockets.ConnectionClosed:
            pass

    def call(self, request):
        """Send a call_result-typed request (``ocpp.v16.call.X``), return the typed answer. A CALLERROR
        raises the library's OCPPError; an answer that breaks the schema raises too."""
        return self.run(self.cp.call(request, suppress=False))

    def received(self, action: str | None = None) -> list:
        return [(a, p) for a, p in self.cp.received if action is None or a == action]

    def wait_received(self, action: str, count: int = 1, timeout: float = 10) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [p for a, p in self.cp.received if a == action]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{action} x{count} not received; got {self.cp.received}")

    def wait_closed(self, timeout: float = 10) -> None:
        """Until the server has closed this connection."""
        self.run(asyncio.wait_for(asyncio.shield(self.reader), timeout), timeout + 1)

    def close(self) -> None:
        if self.ws is not None:
            self.run(self.ws.close(), timeout=5)

    def stop(self) -> None:
        try:
            self.close()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


class Http:
    """A plain HTTP client (urllib): what an outside system or a charge box sends."""

    def __init__(self, base: str):
        self.base = base

    def request(self, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None,
                timeout: float = 40) -> tuple[int, dict, bytes]:
        data = body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def post_chunked(self, path: str, body: bytes, headers: dict) -> tuple[int, dict, bytes]:
        """A POST with Transfer-Encoding: chunked and no Content-Length, as streaming clients send."""
        connection = HTTPConnection(self.base.removeprefix("http://"), timeout=40)
        try:
            connection.putrequest("POST", path)
            for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
                connection.putheader(name, value)
            connection.endheaders()
            for start in range(0, len(body), 16):
                piece = body[start:start + 16]
                connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            connection.send(b"0\r\n\r\n")
            response = connection.getresponse()
            return response.status, dict(response.headers), response.read()
        finally:
            connection.close()

    def post_json(self, path: str, body, token: str | None = None, **kw) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        status, _, content = self.request("POST", path, json.dumps(body), headers, **kw)
        return status, json.loads(content)

    def get_json(self, path: str, token: str) -> tuple[int, dict]:
        status, _, content = self.request("GET", path, headers={"Authorization": f"Token {token}"})
        return status, json.loads(content)
