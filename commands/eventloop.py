"""One asyncio event loop per worker process, running for the process's life in a thread of its own.

Celery tasks are synchronous. ``async_to_sync`` around the channel layer's group_send built a new
event loop for every delivery, and with it a new Redis connection pool (channels_redis keeps one
per loop): a connect, a handshake and a close for every command, which made delivery the slowest
step of a reverse call under load (docs/performance.md). On a loop that lives on, the channel
layer's connections are opened once and reused by every delivery of the process.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_pid = 0


def _process_loop() -> asyncio.AbstractEventLoop:
    global _loop, _pid
    with _lock:
        # A forked child (Celery's prefork pool) has the parent's loop object but not its thread.
        if _loop is None or _pid != os.getpid():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="evchong-worker-loop", daemon=True).start()
            _pid = os.getpid()
        return _loop


def run_in_worker_loop(coroutine: Coroutine[Any, Any, Any], timeout: float) -> Any:
    """Run ``coroutine`` on the process's loop and wait for its result, from any thread."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _process_loop())
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise
