"""Whether any Kotodian bridge is connected to the broker, for /healthz (evchong.health).

Each bridge, while subscribed, keeps its client id in a Redis sorted set scored with the moment its
claim runs out, renewed every RENEW_SECONDS; a bridge that dies without a word drops out once its
claim runs out, so no one has to notice the death. One set, not a key per bridge: a health check
must not SCAN the keyspace."""

from __future__ import annotations

import asyncio
import functools
import logging
import time

import redis
from django.conf import settings

from kotodian.topics import redis_client

BRIDGES_KEY = "evchong:kotodian:bridges"
RENEW_SECONDS = 5.0
CLAIM_SECONDS = 15.0

log = logging.getLogger(__name__)


async def bridge_connected(client_id: str) -> None:
    """Claim, and keep renewing, the bridge's place among the connected until cancelled; then give
    it up at once (a clean disconnect shows on /healthz without waiting for the claim to run out)."""
    client = redis_client()
    try:
        while True:
            try:
                await client.zadd(BRIDGES_KEY, {client_id: time.time() + CLAIM_SECONDS})
            except Exception as exc:  # Redis away: the bridge serves on; health says so meanwhile
                log.warning("Kotodian bridge: could not note that it is connected: %s", exc)
            await asyncio.sleep(RENEW_SECONDS)
    finally:
        try:
            await client.zrem(BRIDGES_KEY, client_id)
        except Exception:
            log.info("Kotodian bridge: its connected claim runs out by itself")


def bridges_connected() -> int:
    """How many bridges hold an unexpired claim (the expired ones are removed on the way)."""
    pipe = _sync_client(settings.REDIS_URL).pipeline()
    pipe.zremrangebyscore(BRIDGES_KEY, "-inf", time.time())
    pipe.zcard(BRIDGES_KEY)
    return int(pipe.execute()[1])


@functools.cache
def _sync_client(url: str) -> redis.Redis:
    """One client (its pool of connections) per process, not a connection per health check."""
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
