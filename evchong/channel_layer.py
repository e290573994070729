"""The channel layer: channels_redis with a Redis pool that waits for a free connection instead of
raising.

channels_redis builds a ``redis.asyncio.ConnectionPool``, which raises ``MaxConnectionsError`` the
moment more coroutines want Redis than the pool holds. In a reconnect storm that was thousands of
``group_add`` calls at once, and each failure killed a consumer after it had accepted its box
(docs/performance.md, item 1). redis-py's ``BlockingConnectionPool`` queues those calls for a
connection instead; only one that waits longer than ``pool_timeout`` seconds fails.

Configured in settings.CHANNEL_LAYERS with this class as BACKEND; every host entry takes the
keyword arguments of ``BlockingConnectionPool.from_url`` (``max_connections``, ``socket_timeout``,
...) plus ``pool_timeout``. Hosts given as sentinels keep channels_redis's own pool.
"""

from __future__ import annotations

from channels_redis.core import RedisChannelLayer
from redis.asyncio import BlockingConnectionPool

DEFAULT_POOL_TIMEOUT = 20.0  # seconds; redis-py's own default


def blocking_pool(host: dict) -> BlockingConnectionPool:
    options = dict(host)
    address = options.pop("address")
    timeout = options.pop("pool_timeout", DEFAULT_POOL_TIMEOUT)
    return BlockingConnectionPool.from_url(address, timeout=timeout, **options)


class BlockingRedisChannelLayer(RedisChannelLayer):
    def create_pool(self, index):
        host = self.hosts[index]
        if "address" not in host:
            return super().create_pool(index)
        return blocking_pool(host)
