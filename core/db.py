"""Database work for async views that go on to wait a long time (for a box's answer)."""

from __future__ import annotations

import asyncio
import weakref
from concurrent.futures import ThreadPoolExecutor
from functools import partial, wraps

from asgiref.sync import sync_to_async
from django.db import connection


def releasing_connection(function, thread_sensitive: bool = True):
    """``function`` run in a thread, its connection handed back to the pool as soon as it returns.

    Django keeps a request's connection until the request ends, and a reverse call's request lasts
    as long as the box takes to answer: a hundred waiting callers would hold the whole pool, and
    the consumers recording the boxes' answers would starve (docs/performance.md). Inside an
    atomic block (a test's transaction) the connection stays: closing it would end that block.
    """

    return sync_to_async(_released(function), thread_sensitive=thread_sensitive)


def _released(function):
    @wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            if not connection.in_atomic_block:
                connection.close()

    return run


class Busy(Exception):
    """No slot for the database step within the caller's patience: nothing was done."""


class DatabaseSlots:
    """At most ``size`` steps at once per event loop (per server process), each run as
    ``releasing_connection`` runs it; the others wait their turn, each for at most its patience.

    Without a bound, a thousand requests arriving together each took a pooled connection at once:
    the pool (DB_POOL_MAX) ran dry and they failed after DB_POOL_TIMEOUT with an HTTP 500, and the
    consumers recording the boxes' answers starved with them (docs/performance.md). Waiting here
    is cheap (no thread, no connection) and the wait is part of the caller's own time budget.
    """

    def __init__(self, size: int):
        self.size = size
        # asyncio primitives belong to one loop (tests run each request on a loop of its own).
        self._semaphores: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._executor: ThreadPoolExecutor | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.size)
        return semaphore

    async def run(self, function, *args, patience: float, own_threads: bool = False, **kwargs):
        """``function(*args, **kwargs)`` in a slot. With ``own_threads`` (a server process), in one
        of ``size`` threads of the slots' own, started once and kept; without, where asgiref sends
        thread-sensitive work: the calling thread under ``async_to_sync`` (a test in its
        transaction), else a thread made for the request's context. That thread, and a second one
        to join it, were started and stopped for every request: under a burst of reverse calls
        that was a third of the event loop's time (docs/performance.md)."""
        semaphore = self._semaphore()
        try:
            async with asyncio.timeout(patience):
                await semaphore.acquire()
        except TimeoutError:
            raise Busy from None
        try:
            if not own_threads:
                return await releasing_connection(function)(*args, **kwargs)
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=max(self.size, 1), thread_name_prefix="db-slot")
            step = partial(_released(function), *args, **kwargs)
            return await asyncio.get_running_loop().run_in_executor(self._executor, step)
        finally:
            semaphore.release()
