"""Database work for async views that go on to wait a long time (for a box's answer)."""

from __future__ import annotations

import asyncio
import weakref
from functools import wraps

from asgiref.sync import sync_to_async
from django.db import connection


def releasing_connection(function):
    """``function`` run in a thread, its connection handed back to the pool as soon as it returns.

    Django keeps a request's connection until the request ends, and a reverse call's request lasts
    as long as the box takes to answer: a hundred waiting callers would hold the whole pool, and
    the consumers recording the boxes' answers would starve (docs/performance.md). Inside an
    atomic block (a test's transaction) the connection stays: closing it would end that block.
    """

    @wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            if not connection.in_atomic_block:
                connection.close()

    return sync_to_async(run)


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

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.size)
        return semaphore

    async def run(self, function, *args, patience: float, **kwargs):
        semaphore = self._semaphore()
        try:
            async with asyncio.timeout(patience):
                await semaphore.acquire()
        except TimeoutError:
            raise Busy from None
        try:
            return await releasing_connection(function)(*args, **kwargs)
        finally:
            semaphore.release()
