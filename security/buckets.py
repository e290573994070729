"""Rate limits kept in the process: a token bucket per charge-box connection, per API token, per
forward-API client. No Redis round trip per message: the OCPP hot path answers thousands of frames a
second with a p99 target of 100 ms. With N server processes a client that spreads over them gets up
to N times the rate; a box holds one connection, so for boxes the limit is exact (docs/adr/0026)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class TokenBucket:
    """``rate`` messages a second on average, ``burst`` at once."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> float:
        """0 when a message may go now; otherwise the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else 60.0


class Buckets:
    """A bucket per key (a token, a client), the least recently used forgotten beyond ``size``: a
    forgotten key starts again with a full bucket, which only ever errs towards letting through."""

    def __init__(self, rate: float, burst: float, size: int = 10_000):
        self.rate, self.burst, self.size = rate, burst, size
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()  # API requests are authenticated in several threads

    def take(self, key: str) -> float:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
                if len(self._buckets) > self.size:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
            return bucket.take()
