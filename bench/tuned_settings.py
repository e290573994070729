"""A tuned variant of evchong.settings, for measuring candidate changes side by side without
touching the project's settings: `make bench BENCH_SETTINGS=bench.tuned_settings`. What it
changes, and what each change measured, is in docs/performance.md."""

from evchong.settings import *  # noqa: F403
from evchong.settings import CHANNEL_LAYERS, DATABASES, REDIS_URL, env_int

# channels_redis opens at most 100 Redis connections per process by default and raises
# MaxConnectionsError beyond that: a burst of connecting boxes (group_add, group_send) exceeds it.
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [
    {"address": REDIS_URL, "max_connections": env_int("CHANNEL_LAYER_MAX_CONNECTIONS", 1000)}
]
# Room for every worker thread (ASGI_THREADS) to hold a connection at once.
DATABASES["default"]["OPTIONS"]["pool"]["max_size"] = env_int("DB_POOL_MAX", 40)
