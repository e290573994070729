"""Simulated boxes (the shipped simulator, not a test double) against the real daphne of
`live_server_url`: each runs on an event loop in a thread of its own, so that a test can call the
central system, or read the database, while the boxes answer and act by themselves."""

from __future__ import annotations

import asyncio
import threading
import time

from simulator.ocpp_box import BoxSettings, OcppBox
from simulator.stats import Stats


def eventually(predicate, timeout: float = 10.0, what: str = "condition"):
    """Poll until ``predicate()`` is truthy: the boxes act after they answer, in their own time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s")


class BoxRunner:
    """An event loop in a thread, running simulator boxes until the test ends."""

    def __init__(self, base_url: str):
        self.ws_url = base_url.replace("http://", "ws://") + "/ocpp"
        self.loop = asyncio.new_event_loop()
        self.stats = Stats()
        self.stop = asyncio.Event()
        self.tasks = []
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout: float = 15.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def box(self, serial: str, id_tag: str, **settings) -> OcppBox:
        """A box that has connected, booted and reported its status."""
        options = {"reconnect_min": 0.2, "reconnect_max": 1.0, "reboot_seconds": 0.2, "firmware_step": 0.1,
                   "call_timeout": 10.0, **settings}
        box = OcppBox(serial, id_tag, BoxSettings(url=self.ws_url, **options), self.stats, self.stop)

        async def start():
            self.tasks.append(asyncio.create_task(box.run()))
            await asyncio.wait_for(box.ready.wait(), 10)

        self.run(start())
        return box

    def close(self) -> None:
        async def finish():
            self.stop.set()
            await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), 10)

        try:
            self.run(finish())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
