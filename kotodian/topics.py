"""Where Kotodian messages travel (DESIGN 3): the broker named by MQTT_URL, the topics of each kind,
and the Redis records that tell the bridge which command a box's Conf answers.

| | registration, QoS 2 | commands and their replies, QoS 2 | telemetry, QoS 0 |
|---|---|---|---|
| box publishes | /U/R/{clientId} | /U/C/{deviceCode} | /U/M/{deviceCode} |
| system publishes | /D/R/{clientId} | /D/C/{deviceCode} | /D/M/{deviceCode} |
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
import weakref
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import orjson
from django.conf import settings

from kotodian.credentials import system_credentials

REGISTRATION, COMMAND, TELEMETRY = "R", "C", "M"
QOS = {REGISTRATION: 2, COMMAND: 2, TELEMETRY: 0}


@dataclass(frozen=True)
class Uplink:
    """A topic a box publishes on: its kind and its last segment (clientId or deviceCode)."""

    kind: str
    code: str

    @property
    def downlink(self) -> str:
        """Where the answer goes: the same kind and last segment, downwards."""
        return downlink(self.kind, self.code)

    @property
    def qos(self) -> int:
        return QOS[self.kind]


def downlink(kind: str, code: str) -> str:
    return f"{settings.KOTODIAN_TOPIC_PREFIX}/D/{kind}/{code}"


def subscriptions() -> list[tuple[str, int]]:
    """The uplink filters and their QoS, through a shared subscription when KOTODIAN_SHARED_GROUP
    names one (several bridges then share the messages)."""
    group = settings.KOTODIAN_SHARED_GROUP
    share = f"$share/{group}/" if group else ""
    return [(f"{share}{settings.KOTODIAN_TOPIC_PREFIX}/U/{kind}/+", qos) for kind, qos in QOS.items()]


def uplink_of(topic: str) -> Uplink | None:
    """The uplink a topic is, or None for one that is not ours."""
    prefix = settings.KOTODIAN_TOPIC_PREFIX
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix):].split("/")
    if len(parts) != 4 or parts[0] != "" or parts[1] != "U" or parts[2] not in QOS or not parts[3]:
        return None
    return Uplink(parts[2], parts[3])


def broker() -> dict:
    """aiomqtt.Client's arguments for MQTT_URL (mqtt://[user:password@]host:port)."""
    url = urlsplit(settings.MQTT_URL)
    if url.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"MQTT_URL must be mqtt://[user:password@]host:port, not {settings.MQTT_URL!r}")
    if url.username:
        username, password = unquote(url.username), unquote(url.password) if url.password else None
    else:
        # No user in the URL: the system's own account (kotodian.credentials), which the private
        # broker and our HTTP auth endpoint for external brokers know.
        system = system_credentials()
        username, password = system.username, system.password
    return {"hostname": url.hostname or "127.0.0.1", "port": url.port or 1883, "username": username,
            "password": password,
            # paho leaves Nagle's algorithm on: each small packet of a QoS 2 exchange then waits for the
            # broker's delayed ACK, about 40 ms a hop (the reverse round trip took 60-100 ms on Mosquitto).
            "socket_options": ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)}


def client_id(role: str) -> str:
    """A client id of ours that no other process has (a broker drops the older of two sessions)."""
    return f"evchong-{role}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"[:64]


# ---------------------------------------------------------------------------------------------
# Commands waiting for their Conf: (deviceCode, sequenceId) -> the command, in Redis

SEQUENCE_KEY = "evchong:kotodian:sequence"
_redis_clients: dict = {}


def waiting_key(code: str, sequence_id: int) -> str:
    return f"evchong:kotodian:waiting:{code}:{sequence_id}"


def redis_client():
    """A redis.asyncio client for the running event loop (a connection belongs to its loop)."""
    import redis.asyncio as aioredis

    loop = asyncio.get_running_loop()
    client = _redis_clients.get(loop)
    if client is None:
        client = _redis_clients[loop] = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=10)
    return client


# sequenceIds a process takes from the shared counter at a time: one round trip to Redis per so many
# requests, not one per request (a reverse call's way to its box). A process that ends leaves the
# rest of its block unused; sequenceId is a uint64.
SEQUENCE_BLOCK = 1000
_sequence_blocks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> [next, last]


async def sequence_next() -> int:
    """A sequenceId that no other request of ours carries (one counter for every box and process,
    handed out in blocks)."""
    block = _sequence_blocks.setdefault(asyncio.get_running_loop(), [1, 0])
    while block[0] > block[1]:
        last = int(await redis_client().incrby(SEQUENCE_KEY, SEQUENCE_BLOCK))
        if block[0] > block[1]:  # else another request of this loop took a block meanwhile
            block[0], block[1] = last - SEQUENCE_BLOCK + 1, last
    block[0] += 1
    return block[0] - 1


async def command_wait(code: str, sequence_id: int, command_id: int, sent: str, ttl: float) -> None:
    """Remember that ``command_id`` waits for the Conf of request ``sequence_id`` to box ``code``;
    ``sent`` is the request as journaled with the answer."""
    payload = orjson.dumps({"command_id": command_id, "sent": sent})
    await redis_client().set(waiting_key(code, sequence_id), payload, px=max(1, int(ttl * 1000)))


async def command_waiting_take(code: str, sequence_id: int) -> dict | None:
    """The command waiting for this Conf, taken (only one taker ever gets it: the answer or the
    timeout); None when there is none (a stray or late answer)."""
    found = await redis_client().getdel(waiting_key(code, sequence_id))
    return orjson.loads(found) if found else None
