"""A closed connection leaves no subscription behind on its server's pub/sub connection (docs/adr/
0012): many boxes that go away at once, as at the end of a storm or when a server's network
drops, must not each leave a channel subscribed in Redis for the rest of the process's life."""

from __future__ import annotations

import asyncio
import json
import time

import redis
import websockets
from django.conf import settings

BOOT = json.dumps([2, "b", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}])


def subscriptions() -> dict[int, int]:
    """Channels subscribed, by Redis client id, of every pub/sub connection."""
    clients = redis.Redis.from_url(settings.REDIS_URL).client_list(_type="pubsub")
    return {int(client["id"]): int(client["sub"]) for client in clients}


def test_boxes_that_leave_together_leave_no_subscription(transactional_db, make_box, start_daphne):
    boxes = [make_box(f"LEAVE-{n}", connectors=1).serial for n in range(300)]
    before = subscriptions()
    url = start_daphne(OCPP_CONNECTING_MAX="300").replace("http://", "ws://") + "/ocpp/"

    async def connect_all_then_drop_all() -> int:
        sockets = await asyncio.gather(*(websockets.connect(url + serial, subprotocols=["ocpp1.6"], open_timeout=30)
                                         for serial in boxes))
        for ws in sockets:
            await ws.send(BOOT)
        await asyncio.gather(*(ws.recv() for ws in sockets))
        server = {client: count for client, count in subscriptions().items() if client not in before}
        # One pub/sub connection for the new server, holding each box's own channel and its group.
        assert list(server.values()) == [2 * len(boxes)], server
        for ws in sockets:  # all gone in the same instant, without a closing handshake
            ws.transport.abort()
        await asyncio.sleep(0.1)
        return next(iter(server))

    client = asyncio.run(connect_all_then_drop_all())
    deadline = time.monotonic() + 15
    while subscriptions().get(client, 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert subscriptions().get(client, 0) == 0, subscriptions().get(client)
