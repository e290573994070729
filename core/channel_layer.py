"""channels_redis's pub/sub channel layer (docs/adr/0012), with a process's subscriptions changed
by one task of its own, several channels to a command.

Every OCPP connection subscribes twice (its own channel, ``new_channel``, and its box's group,
``group_add``) and unsubscribes both when it ends. channels_redis sends each of these alone, under
the one lock of its Redis connection, from the consumer's own task:

- In a reconnect storm a set-up waited for a hundred others' turns on a busy event loop: its
  ``group_add`` alone took p50 25-116 ms, p90 up to 330 ms (docs/performance.md).
- A connection ends by cancelling its consumer, and the consumer's receive unsubscribes its
  channel inside that cancellation, waiting for the lock. Cancelled once more while it waits (as
  daphne does when the socket is gone), it logs "Unexpected exception while cleaning-up channel"
  and the subscription stays on the process's connection for good: after two storms of 10,000
  boxes, two server processes held 13,710 subscriptions of boxes long gone, with 24,308 such lines
  in their log.

Here a consumer only records what it wants; the shard's task ``_send`` holds the lock and
subscribes to (and unsubscribes from) everything wanted meanwhile, in one command each. A
subscriber still waits until its SUBSCRIBE is sent; an unsubscriber does not wait at all, so there
is nothing left to cancel.
"""

from __future__ import annotations

import asyncio
import logging

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisSingleShardConnection

log = logging.getLogger(__name__)


class ChannelLayer(RedisPubSubChannelLayer):
    """``RedisPubSubChannelLayer`` whose Redis connections are ``SubscribingShard``s."""

    def _get_layer(self):
        layer = super()._get_layer()  # one per event loop; its shards connect on first use
        if not all(isinstance(shard, SubscribingShard) for shard in layer._shards):
            layer._shards = [SubscribingShard(shard.host, layer) for shard in layer._shards]
        return layer


class SubscribingShard(RedisSingleShardConnection):
    """One Redis connection of the layer. ``_asked`` (channels to subscribe to, each with the
    future its subscribers wait on) and ``_dropped`` (channels to unsubscribe from) hold the
    latest wish for each channel, never both; ``_send`` carries them out in order of rounds. What is
    subscribed already is read under the lock, as channels_redis does."""

    def __init__(self, host, channel_layer):
        super().__init__(host, channel_layer)
        self._asked: dict[str, asyncio.Future] = {}
        self._dropped: set[str] = set()
        self._sender: asyncio.Task | None = None

    async def subscribe(self, channel):
        self._dropped.discard(channel)  # a group left and joined again before _send ran stays subscribed
        future = self._asked.get(channel)
        if future is None:
            future = self._asked[channel] = asyncio.get_running_loop().create_future()
            self._wake()
        # Shielded: a caller that is cancelled must not cancel the others waiting on the same channel.
        await asyncio.shield(future)

    async def unsubscribe(self, channel):
        future = self._asked.pop(channel, None)
        if future is not None and not future.done():
            future.set_result(None)  # asked for and never sent: its caller is the one leaving
        self._dropped.add(channel)
        self._wake()

    async def flush(self):
        for future in self._asked.values():
            if not future.done():
                future.set_result(None)
        self._asked, self._dropped = {}, set()
        await super().flush()

    def _wake(self) -> None:
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while self._asked or self._dropped:
            async with self._lock:
                asked, self._asked = self._asked, {}
                dropped, self._dropped = self._dropped, set()
                new = [channel for channel in asked if channel not in self._subscribed_to]
                gone = [channel for channel in dropped if channel in self._subscribed_to]
                failure = None
                try:
                    if new or gone:
                        self._ensure_redis()
                        self._ensure_receiver()
                    if new:
                        await self._pubsub.subscribe(*new)
                        self._subscribed_to.update(new)
                    if gone:
                        await self._pubsub.unsubscribe(*gone)
                        self._subscribed_to.difference_update(gone)
                except Exception as exc:  # Redis away: every subscriber of this round hears it
                    failure = exc
                    if gone:
                        log.warning("%d channels could not be unsubscribed: %s", len(gone), exc)
            for future in asked.values():
                if future.done():
                    continue
                if failure is None:
                    future.set_result(None)
                else:
                    future.set_exception(failure)
