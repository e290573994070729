"""The one reply mechanism: whoever waits for a command's outcome (the reverse API, the operations
API, a form in the admin) blocks on its Redis key, which is pushed once the outcome is committed
on the command's row. The row stays the truth: a waiter not woken reads it at its deadline."""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref

import orjson
import redis
from django.conf import settings
from django.db import connection, transaction

from commands.models import Command

log = logging.getLogger(__name__)


def reply_key(command_id: int) -> str:
    return f"evchong:command:{command_id}:reply"


def session_key(command_id: int) -> str:
    """Where a remote start's session id is pushed once the box's StartTransaction is committed."""
    return f"evchong:command:{command_id}:session"


_redis_clients: dict[float, redis.Redis] = {}
_redis_clients_lock = threading.Lock()
# Longer than any wait we make on this client.
_WAIT_READ_TIMEOUT = 300
# A wake-up is two quick commands: a Redis that stalls longer fails it (logged; the row stands)
# rather than hold up the box's connection, which records the outcome, for minutes.
_PUSH_READ_TIMEOUT = 5


def _redis(read_timeout: float) -> redis.Redis:
    """The process's client for commands that may take up to ``read_timeout`` seconds, made once.
    Under the lock: threads that first met no client each made one, and a client dropped that way
    closes its pool when collected, connections in use included. A burst of answers in a fresh
    server process did just that, and the threads still using those connections failed with "I/O
    operation on closed file" (seen under a reverse-API burst)."""
    client = _redis_clients.get(read_timeout)
    if client is not None:
        return client
    with _redis_clients_lock:
        if read_timeout not in _redis_clients:
            # redis-py's default read timeout (5 s) would cut a BLPOP that waits longer.
            _redis_clients[read_timeout] = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=read_timeout)
        return _redis_clients[read_timeout]


def commands_wake(commands: list[Command]) -> None:
    """Wake the waiters of committed outcomes, all in one round trip to Redis. Never raises: the
    outcomes are committed, and a waiter not woken reads its row at its deadline. Raising here
    would have closed a box's connection for a Redis hiccup."""
    try:
        pipe = _redis(_PUSH_READ_TIMEOUT).pipeline()
        for command in commands:
            key = reply_key(command.pk)
            pipe.rpush(key, orjson.dumps({name: getattr(command, name) for name in _REPLY_FIELDS}))
            pipe.expire(key, settings.COMMAND_REPLY_TTL_SECONDS)
        pipe.execute()
    except Exception:
        log.exception("commands %s: their outcomes are stored, but their waiters could not be woken",
                      [command.pk for command in commands])




class _WakeAfterCommit:
    """The commands settled in one transaction, woken together once it commits: the inbound
    pipeline settles a batch's worth in one transaction, and one Redis round trip wakes them all."""

    def __init__(self):
        self.commands: list[Command] = []

    def __call__(self):
        commands_wake(self.commands)


_pending = threading.local()


def command_wake_after_commit(command: Command) -> None:
    """Wake ``command``'s waiters once the current transaction commits (at once outside one). A
    rolled-back transaction drops its hook with its other on-commit callbacks, and a later
    transaction starts a new one."""
    if not connection.in_atomic_block:
        return commands_wake([command])
    hook = getattr(_pending, "hook", None)
    if hook is None or not any(callback is hook for _, callback, _ in connection.run_on_commit):
        hook = _pending.hook = _WakeAfterCommit()
        transaction.on_commit(hook)
    hook.commands.append(command)


# What a reply carries: enough of the row for a waiter to answer its caller without reading it back.
_REPLY_FIELDS = ("state", "response", "error_code", "error_description")


def command_wait(command: Command, timeout: float) -> Command:
    """Block until the command is answered or ``timeout`` passes; the row is the truth either way."""
    if command.is_open:
        _redis(_WAIT_READ_TIMEOUT).blpop([reply_key(command.pk)], timeout=max(timeout, 0.01))
    command.refresh_from_db()
    return command


# One client per event loop (a redis.asyncio connection belongs to the loop that opened it). Its
# pool keeps the connections of finished waits for the next ones: opening one per waiter cost a
# connect and a close per reverse call, a thousand at a time under load. A BLPOP holds its
# connection for the whole wait, so the pool is as large as the waits a process may hold, and one
# beyond that waits for a connection instead of failing (redis-py's default pool raises past 100).
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
WAITERS_MAX = 2000


def _redis_async():
    import redis.asyncio as aioredis

    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = aioredis.BlockingConnectionPool.from_url(settings.REDIS_URL, max_connections=WAITERS_MAX,
                                                        timeout=None, socket_timeout=_WAIT_READ_TIMEOUT)
        client = _async_clients[loop] = aioredis.Redis(connection_pool=pool)
    return client


async def command_wait_async(command_id: int, timeout: float) -> Command | None:
    """The same wait for async views, holding no thread: the command as answered (an unsaved
    Command carrying the outcome that was committed on its row), or None if ``timeout`` passed."""
    try:
        # Bounded here too: a wait for a free connection must not stretch the caller's time.
        async with asyncio.timeout(max(timeout, 0.01) + 1):
            popped = await _redis_async().blpop([reply_key(command_id)], timeout=max(timeout, 0.01))
    except TimeoutError:
        return None
    if popped is None:
        return None
    reply = orjson.loads(popped[1])
    return Command(pk=command_id, **{name: reply[name] for name in _REPLY_FIELDS if name in reply})


def command_session_wake_after_commit(command_id: int, transaction_id: int) -> None:
    """Wake whoever waits for the session a remote start became, once the start is committed. Never
    raises, as ``commands_wake``: the link is on the command's row, which a waiter reads at its deadline."""

    def push():
        try:
            key = session_key(command_id)
            _redis(_PUSH_READ_TIMEOUT).pipeline().rpush(key, transaction_id).expire(
                key, settings.COMMAND_REPLY_TTL_SECONDS).execute()
        except Exception:
            log.exception("command %s: its session %s is stored, but its waiters could not be woken",
                          command_id, transaction_id)

    transaction.on_commit(push)


async def command_session_wait_async(command_id: int, timeout: float) -> int | None:
    """The id of the session the remote start ``command_id`` became, or None if none was pushed
    within ``timeout`` (a push made before the wait began is found: it stays on the list)."""
    try:
        async with asyncio.timeout(max(timeout, 0.01) + 1):
            popped = await _redis_async().blpop([session_key(command_id)], timeout=max(timeout, 0.01))
    except TimeoutError:
        return None
    return None if popped is None else int(popped[1])
