"""Whether a box is online: the one rule that the read API, the admin and the status pages use.

- A box on a protocol that holds a connection (OCPP 1.6J over WebSocket) is online while that
  connection is open: ``connected_node`` names the server process and connection holding it, set at
  connect and cleared at disconnect, and the server closes a connection whose box stops answering
  its pings (OCPP_PING_INTERVAL, OCPP_PING_TIMEOUT). A process that dies cannot clear what it held,
  so each process holds a lease in Redis that it renews while it runs; a box counts as connected
  only while the lease of the process named in its ``connected_node`` lasts. Nothing on a box's
  message path is written for this: an idle box stays online for as long as its socket does.
- A Kotodian box is online while it is reachable for commands (kotodian.presence): from its
  registration, boot or heartbeat, until it has been silent for KOTODIAN_SILENT_HEARTBEATS of its
  heartbeat intervals (the broker does not tell other clients when a box's MQTT session ends).
- Any other box (the EVCHONG forward API, which holds no connection) is online while its last
  message is younger than MISSED_HEARTBEATS_OFFLINE of its heartbeat intervals.

docs/adr/0025-box-state.md says why.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db.models import (
    BooleanField, CharField, DateTimeField, DurationField, ExpressionWrapper, F, Func, Q, QuerySet, Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import In
from django.utils import timezone

from chargers.choices import CONNECTED_PROTOCOLS, Protocol

log = logging.getLogger(__name__)

# connected_node of a connected protocol is "<process>/<connection>".
NODE_SEPARATOR = "/"
# A sorted set: each server process holding box connections, scored by the Unix time its lease ends.
PROCESSES_KEY = "evchong:presence:processes"
# Leases ended this long ago are dropped from the set.
FORGET_AFTER = 86400

_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    return _client


def process_lease_renew(*, node: str, seconds: float) -> None:
    """The server process ``node`` holds its connections for ``seconds`` more."""
    _redis().zadd(PROCESSES_KEY, {node: time.time() + seconds})


def processes_alive(now: datetime | None = None) -> list[str]:
    """The server processes whose lease has not run out. Redis away: none (every connected box
    shows offline, and indeed none can be sent a command while the channel layer is away)."""
    at = (now or timezone.now()).timestamp()
    try:
        return [node.decode() for node in _redis().zrangebyscore(PROCESSES_KEY, at, "+inf")]
    except redis.RedisError:
        log.exception("the server processes' leases could not be read: connected boxes show offline")
        return []


def heard_within(intervals: int, now: datetime) -> Q:
    """Heard from within ``intervals`` of the box's own heartbeat interval."""
    grace = ExpressionWrapper(
        Coalesce(F("heartbeat_interval"), Value(settings.HEARTBEAT_INTERVAL)) * Value(timedelta(seconds=intervals)),
        output_field=DurationField(),
    )
    return Q(last_seen__gte=ExpressionWrapper(Value(now) - grace, output_field=DateTimeField()))


def _process_of_node() -> Func:
    return Func(F("connected_node"), Value(NODE_SEPARATOR), Value(1), function="split_part", output_field=CharField())


def online_q(now: datetime | None = None) -> Q:
    """The rule as a filter on ChargeBox (the leases are read from Redis when it is made)."""
    now = now or timezone.now()
    alive = processes_alive(now)
    # No process is named "": an empty IN list would make the whole filter empty in Django.
    connected = Q(protocol__in=CONNECTED_PROTOCOLS) & ~Q(connected_node="") & Q(In(_process_of_node(), alive or [""]))
    kotodian = Q(protocol=Protocol.KOTODIAN) & ~Q(connected_node="") & heard_within(
        settings.KOTODIAN_SILENT_HEARTBEATS, now)
    heard = ~Q(protocol__in=[*CONNECTED_PROTOCOLS, Protocol.KOTODIAN]) & heard_within(
        settings.MISSED_HEARTBEATS_OFFLINE, now)
    return connected | kotodian | heard


ANNOTATION = "online_now"


def boxes_with_online(queryset: QuerySet, now: datetime | None = None) -> QuerySet:
    """``queryset`` with each box's online state read with it (``ChargeBox.is_online`` uses it)."""
    return queryset.annotate(
        **{ANNOTATION: ExpressionWrapper(online_q(now), output_field=BooleanField())})


def box_online(box) -> bool:
    """Whether ``box`` (a ChargeBox; this module is below the model, which asks it) is online."""
    if ANNOTATION in box.__dict__:
        return bool(box.__dict__[ANNOTATION])
    if box.pk is None:
        return False
    return type(box).objects.filter(online_q(), pk=box.pk).exists()


def processes_alive_now() -> list[str]:
    """As ``processes_alive``, raising when Redis cannot say (a sweep must not take that for "none")."""
    now = time.time()
    client = _redis()
    client.zremrangebyscore(PROCESSES_KEY, "-inf", now - FORGET_AFTER)
    return [node.decode() for node in client.zrangebyscore(PROCESSES_KEY, now, "+inf")]
