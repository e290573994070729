"""A charge box for tests: a real OCPP 1.6J WebSocket client in a thread of its own, answering
the central system's calls as told and remembering them."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid

import websockets
from websockets.frames import Opcode
from websockets.sync.client import ClientConnection


class SimBox:
    def __init__(self, base_url: str, serial: str, answers: dict | None = None, delay: float = 0.0):
        self.url = base_url.replace("http://", "ws://") + f"/ocpp/{serial}"
        self.serial = serial
        # action -> answer payload; an action missing here is never answered (a silent box).
        self.answers = answers if answers is not None else {}
        self.delay = delay
        self.calls: list[tuple[str, dict]] = []
        self._loop = asyncio.new_event_loop()
        self._ws = None
        self._pending: dict[str, asyncio.Future] = {}
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> "SimBox":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._connect(), self._loop).result(10)
        boot = self.call("BootNotification", {"chargePointVendor": "Sim", "chargePointModel": "SimBox"})
        assert boot["status"] == "Accepted", boot
        return self

    def __exit__(self, *exc):
        self.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def close(self) -> None:
        if self._ws is not None:
            asyncio.run_coroutine_threadsafe(self._ws.close(), self._loop).result(5)

    def call(self, action: str, payload: dict) -> dict:
        """Send a CALL from the box and return the central system's answer payload."""
        return asyncio.run_coroutine_threadsafe(self._call(action, payload), self._loop).result(15)

    def wait_for_calls(self, count: int, timeout: float = 10.0) -> list[tuple[str, dict]]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.calls)

    async def _connect(self):
        self._ws = await websockets.connect(self.url, subprotocols=["ocpp1.6"])
        self._loop.create_task(self._read())

    async def _call(self, action, payload):
        unique_id = uuid.uuid4().hex[:20]
        answer = self._pending[unique_id] = self._loop.create_future()
        await self._ws.send(json.dumps([2, unique_id, action, payload]))
        try:
            return await answer
        finally:
            del self._pending[unique_id]

    async def _read(self):
        try:
            async for text in self._ws:
                message = json.loads(text)
                if message[0] == 2:
                    self._loop.create_task(self._answer(message[1], message[2], message[3]))
                elif message[1] in self._pending:
                    self._pending[message[1]].set_result(message[2] if message[0] == 3 else {"error": message[2]})
        except websockets.ConnectionClosed:
            pass

    async def _answer(self, unique_id, action, payload):
        self.calls.append((action, payload))
        if action not in self.answers:
            return
        if self.delay:
            await asyncio.sleep(self.delay)
        await self._ws.send(json.dumps([3, unique_id, self.answers[action]]))


class PingCounter(ClientConnection):
    """A synchronous client connection that counts the server's pings (websockets answers them itself)."""

    pings = 0

    def process_event(self, event):
        if getattr(event, "opcode", None) is Opcode.PING:
            self.pings += 1
        super().process_event(event)
