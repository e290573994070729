"""The channel layer (settings.CHANNEL_LAYERS: channels_redis's pub/sub layer, docs/adr/0012) on the
real Redis of the test run: a burst of boxes connecting at once all join their groups, and a call
sent from another process (the Celery worker) reaches exactly the box it is for."""

from __future__ import annotations

import asyncio
import uuid

from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

from ocpp16.calls import box_group


def server_and_worker() -> tuple[RedisPubSubChannelLayer, RedisPubSubChannelLayer]:
    """Two processes' layers (a server's and the Celery worker's), under a prefix of their own:
    nothing shared with the servers of other tests on the same Redis."""
    prefix = f"test-layer-{uuid.uuid4().hex[:8]}"
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    return RedisPubSubChannelLayer(**config, prefix=prefix), RedisPubSubChannelLayer(**config, prefix=prefix)


def test_the_configured_layer_is_the_pubsub_one():
    assert isinstance(get_channel_layer(), RedisPubSubChannelLayer)


async def test_a_burst_of_connections_each_gets_its_own_call():
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
