"""Limits on guessing credentials: the admin login, charge boxes' HTTP Basic (the OCPP upgrade with
security profile 1 and the forward API), API tokens and Kotodian registration codes share these
counters in Redis, so that every server process sees the same failures (docs/adr/0026).

Failures are counted per (source address, account) and per source address, in windows of
BRUTE_FORCE_WINDOW seconds. A source that failed BRUTE_FORCE_ACCOUNT_FAILURES times for one account
is refused for that account until its window ends; one that failed BRUTE_FORCE_SOURCE_FAILURES times
in all, for any account. There is deliberately no count per account alone: it would let anyone lock a
charge box (or a user) out by failing for it from elsewhere, while the box keeps coming in from its
own address. A success clears the (source, account) count.

Redis away: nothing is refused for it (the credential checks themselves still hold); being unable to
count failures for a few seconds is better than no box getting in.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

import redis
import redis.asyncio as aioredis
from django.conf import settings
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# Which guard counts: the same address may be a user's and a box's, each counted on its own.
# Kotodian registration codes come through the broker, which tells no address: their source is the
# MQTT client id the registration came on (kotodian.bridge), their account the serial.
ADMIN, BOX, TOKEN, KOTODIAN_REGISTRATION = "admin", "box", "token", "kotodian-registration"


def _keys(kind: str, source: str, account: str) -> list[tuple[str, int]]:
    """The counters a failure of ``source`` for ``account`` adds to, each with its limit. API tokens
    have no account (the token is the whole secret): their guesses count per source only."""
    keys = [(f"bf:{kind}:s:{source}", settings.BRUTE_FORCE_SOURCE_FAILURES)]
    if account:
        # Hashed: the account is whatever the client sent (any length, any bytes).
        pair = hashlib.sha256(f"{source}\0{account}".encode("utf-8", "replace")).hexdigest()[:32]
        keys.append((f"bf:{kind}:a:{pair}", settings.BRUTE_FORCE_ACCOUNT_FAILURES))
    return keys


def _verdict(keys: list[tuple[str, int]], values: list) -> int:
    """Seconds the source is refused (0: not refused), from the [count, ttl] of each key."""
    left = 0
    for (_, limit), count, ttl in zip(keys, values[::2], values[1::2], strict=True):
        if int(count or 0) >= limit:
            left = max(left, int(ttl), 1)
    return left


def _check(pipe, keys):
    for key, _ in keys:
        pipe.get(key).ttl(key)
    return pipe


def _fail(pipe, keys):
    window = settings.BRUTE_FORCE_WINDOW
    for key, _ in keys:
        # The window starts with the first failure (SET NX EX; Redis 6 has no EXPIRE NX).
        pipe.set(key, 0, ex=window, nx=True).incr(key)
    return pipe


_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    return _client


def refused_for(kind: str, source: str, account: str) -> int:
    """Seconds ``source`` must wait before trying ``account`` again; 0 when it may try now."""
    try:
        keys = _keys(kind, source, account)
        return _verdict(keys, _check(_redis().pipeline(transaction=False), keys).execute())
    except RedisError:
        log.warning("brute-force counters unavailable (Redis); not refusing", exc_info=True)
        return 0


def failure(kind: str, source: str, account: str) -> None:
    try:
        _fail(_redis().pipeline(transaction=False), _keys(kind, source, account)).execute()
    except RedisError:
        log.warning("brute-force counters unavailable (Redis); failure not counted", exc_info=True)


def success(kind: str, source: str, account: str) -> None:
    try:
        if account:
            _redis().delete(_keys(kind, source, account)[1][0])
    except RedisError:
        pass


_async_clients: dict = {}


def _aredis() -> aioredis.Redis:
    # One client per event loop: a redis.asyncio connection belongs to the loop that opened it.
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = _async_clients[loop] = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=1,
                                                                socket_connect_timeout=1)
    return client


async def refused_for_async(kind: str, source: str, account: str) -> int:
    try:
        keys = _keys(kind, source, account)
        return _verdict(keys, await _check(_aredis().pipeline(transaction=False), keys).execute())
    except (RedisError, OSError):
        log.warning("brute-force counters unavailable (Redis); not refusing", exc_info=True)
        return 0


async def failure_async(kind: str, source: str, account: str) -> None:
    try:
        await _fail(_aredis().pipeline(transaction=False), _keys(kind, source, account)).execute()
    except (RedisError, OSError):
        log.warning("brute-force counters unavailable (Redis); failure not counted", exc_info=True)


async def success_async(kind: str, source: str, account: str) -> None:
    try:
        if account:
            await _aredis().delete(_keys(kind, source, account)[1][0])
    except (RedisError, OSError):
        pass
