"""The channel layer's Redis pool waits for a free connection instead of raising (evchong.channel_layer),
on the real Redis of the test run: a burst of group_add/group_send larger than the pool all succeed
where the stock channels_redis layer fails."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError

from evchong.channel_layer import BlockingRedisChannelLayer


def layer(cls=BlockingRedisChannelLayer, **host):
    # A prefix of its own: nothing shared with the servers of other tests on the same Redis.
    return cls(hosts=[{"address": settings.REDIS_URL, **host}], prefix=f"test-pool-{uuid.uuid4().hex[:8]}")


async def burst(channel_layer, n: int = 60) -> list:
    """n boxes connecting at once: a group_add and a group_send each; what each one raised."""

    async def one(i: int) -> None:
        channel = await channel_layer.new_channel()
        await channel_layer.group_add(f"box-{i}", channel)
        await channel_layer.group_send(f"box-{i}", {"type": "ocpp.replace", "channel": channel, "since": 0})

    return await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)


def test_the_configured_layer_is_the_blocking_one():
    assert isinstance(get_channel_layer(), BlockingRedisChannelLayer)


async def test_a_burst_larger_than_the_pool_waits_and_succeeds():
    blocking = layer(max_connections=3)
    try:
        assert await burst(blocking) == [None] * 60
        pool = blocking.connection(0).connection_pool
        assert len(pool._in_use_connections) + len(pool._available_connections) <= 3
    finally:
        await blocking.flush()


async def test_the_stock_layer_raises_on_the_same_burst():
    # What the subclass is for: channels_redis's own pool gives up at once.
    stock = layer(RedisChannelLayer, max_connections=3)
    try:
        failed = [r for r in await burst(stock) if r is not None]
        assert failed and all(isinstance(r, MaxConnectionsError) for r in failed)
    finally:
        await stock.flush()


async def test_a_wait_longer_than_pool_timeout_fails():
    blocking = layer(max_connections=1, pool_timeout=0.3)
    try:
        pool = blocking.connection(0).connection_pool
        held = await pool.get_connection()
        with pytest.raises(RedisConnectionError):
            await blocking.group_add("box-1", "channel-1")
        await pool.release(held)
        await blocking.group_add("box-1", "channel-1")  # served once a connection is free
    finally:
        await blocking.flush()
