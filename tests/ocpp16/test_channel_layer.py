"""The channel layer (settings.CHANNEL_LAYERS: channels_redis's pub/sub layer, docs/adr/0012, with
SUBSCRIBEs sent together by core.channel_layer) on the real Redis of the test run: a burst of
boxes connecting at once all join their groups in a few commands, and a call sent from another
process (the Celery worker) reaches exactly the box it is for."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from core.channel_layer import ChannelLayer
from ocpp16.delivery import box_group


def server_and_worker() -> tuple[ChannelLayer, ChannelLayer]:
    """Two processes' layers (a server's and the Celery worker's), under a prefix of their own:
    nothing shared with the servers of other tests on the same Redis."""
    prefix = f"test-layer-{uuid.uuid4().hex[:8]}"
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    return ChannelLayer(**config, prefix=prefix), ChannelLayer(**config, prefix=prefix)


def test_the_configured_layer_is_the_pubsub_one():
    assert isinstance(get_channel_layer(), ChannelLayer)


@pytest.fixture
def subscribe_commands(monkeypatch) -> list[tuple]:
    """The SUBSCRIBE commands sent, each with its channels."""
    sent, subscribe = [], PubSub.subscribe

    async def counted(pubsub, *channels, **kwargs):
        sent.append(channels)
        return await subscribe(pubsub, *channels, **kwargs)

    monkeypatch.setattr(PubSub, "subscribe", counted)
    return sent


async def test_a_burst_of_connections_each_gets_its_own_call(subscribe_commands):
    server, worker = server_and_worker()
    serials = [f"BURST-{i}" for i in range(200)]
    try:

        async def connect(serial: str) -> str:
            channel = await server.new_channel()
            await server.group_add(box_group(serial), channel)
            return channel

        channels = await asyncio.gather(*(connect(serial) for serial in serials))
        await asyncio.sleep(0.2)  # Redis confirms the subscriptions on the reader's connection
        await asyncio.gather(*(worker.group_send(box_group(serial), {"type": "ocpp.call", "serial": serial})
                               for serial in serials))
        async with asyncio.timeout(10):
            received = await asyncio.gather(*(server.receive(channel) for channel in channels))
        assert [message["serial"] for message in received] == serials
        # 400 subscriptions (a channel and a group per box), a handful of commands
        assert sum(len(channels) for channels in subscribe_commands) == 400
        assert len(subscribe_commands) <= 10, [len(channels) for channels in subscribe_commands]
    finally:
        await server.flush()
        await worker.flush()


async def test_a_call_for_a_box_nobody_holds_is_dropped_and_reaches_no_other_box():
    server, worker = server_and_worker()
    try:
        channel = await server.new_channel()
        await server.group_add(box_group("HELD"), channel)
        await asyncio.sleep(0.2)
        await worker.group_send(box_group("NOT-HELD"), {"type": "ocpp.call", "serial": "NOT-HELD"})
        await worker.group_send(box_group("HELD"), {"type": "ocpp.call", "serial": "HELD"})
        async with asyncio.timeout(5):
            assert (await server.receive(channel))["serial"] == "HELD"
    finally:
        await server.flush()
        await worker.flush()


async def test_a_channel_unsubscribed_before_its_subscribe_was_sent_stays_unsubscribed():
    server, _ = server_and_worker()
    shard = server._get_layer()._shards[0]
    try:
        await server.new_channel()  # the connection is up
        waiter = asyncio.ensure_future(shard.subscribe("asgi-lonely"))
        await asyncio.sleep(0)  # asked for, not yet sent
        await shard.unsubscribe("asgi-lonely")
        async with asyncio.timeout(5):
            await waiter
        await asyncio.sleep(0.2)
        assert "asgi-lonely" not in shard._subscribed_to
        redis = Redis.from_url(settings.REDIS_URL)
        assert await redis.pubsub_numsub("asgi-lonely") == [(b"asgi-lonely", 0)]
        await redis.aclose()
    finally:
        await server.flush()


async def test_every_connection_waiting_to_subscribe_hears_that_redis_is_away():
    away = ChannelLayer(hosts=[{"address": "redis://127.0.0.1:9/0", "socket_connect_timeout": 1}])
    results = await asyncio.gather(*(away.new_channel() for _ in range(3)), return_exceptions=True)
    assert all(isinstance(result, (RedisError, OSError)) for result in results), results
    await away.flush()


async def test_connections_that_end_cancelled_twice_leave_no_subscription_behind():
    server, _ = server_and_worker()
    shard = server._get_layer()._shards[0]
    groups = [f"GONE-{i}" for i in range(100)]
    try:
        channels = [await server.new_channel() for _ in groups]
        for group, channel in zip(groups, channels, strict=True):
            await server.group_add(group, channel)
        receivers = [asyncio.ensure_future(server.receive(channel)) for channel in channels]
        await asyncio.sleep(0.05)
        for receiver in receivers:  # the connections end: their consumers are cancelled ...
            receiver.cancel()
        await asyncio.sleep(0)
        for receiver in receivers:  # ... and once more while they clean up, as when the socket is gone
            receiver.cancel()
        await asyncio.gather(*receivers, return_exceptions=True)
        for group, channel in zip(groups, channels, strict=True):
            await server.group_discard(group, channel)
        await asyncio.sleep(0.5)
        assert shard._subscribed_to == set()
        redis = Redis.from_url(settings.REDIS_URL)
        names = [*channels, *(server._get_layer()._get_group_channel_name(group) for group in groups)]
        assert {count for _, count in await redis.pubsub_numsub(*names)} == {0}
        await redis.aclose()
    finally:
        await server.flush()
