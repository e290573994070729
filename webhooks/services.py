"""Webhook events and their deliveries: who wants an event, how it is signed, how one attempt goes.

The signature (documented in docs/webhooks.md): ``X-Evchong-Signature: sha256=<hex>``, the
HMAC-SHA256 with the endpoint's secret of ``<X-Evchong-Timestamp>.<body>``, the timestamp being
Unix seconds of the attempt; a receiver refuses a stale timestamp to defeat replays."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from webhooks.addresses import endpoint_url_problem
from webhooks.models import Delivery, DeliveryState, Endpoint, EventType

SIGNATURE_HEADER = "X-Evchong-Signature"
TIMESTAMP_HEADER = "X-Evchong-Timestamp"
EVENT_HEADER = "X-Evchong-Event"
DELIVERY_HEADER = "X-Evchong-Delivery"
# A receiver asking us to slow down or timing out is worth another try; other 4xx are not.
RETRIED_STATUSES = {408, 425, 429}


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


class _Subscriptions:
    """The event types some active endpoint wants, read at most every WEBHOOK_SUBSCRIPTIONS_TTL
    seconds per process: events happen in the boxes' hot path (every start, stop, status), and with
    no endpoint for them they must cost a set lookup, not a query or a Celery message."""

    def __init__(self):
        self.until = 0.0
        self.types: frozenset[str] = frozenset()

    def wanted(self, event_type: str) -> bool:
        now = time.monotonic()
        if now >= self.until:
            types = set()
            for events in Endpoint.objects.filter(active=True).values_list("events", flat=True):
                types.update(events or EventType.values)
            self.types, self.until = frozenset(types), now + settings.WEBHOOK_SUBSCRIPTIONS_TTL
        return event_type in self.types

    def forget(self) -> None:
        self.until = 0.0


subscriptions = _Subscriptions()


@dataclass(frozen=True)
class Event:
    """What happened: a type, and either its data or what the fan-out task renders it from (a
    row's id), so that the domain's transaction does no rendering."""

    type: str
    data: dict | None = None
    ref: dict | None = None


def event_publish(event: Event) -> None:
    """Queue ``event`` for every endpoint that wants it, once the caller's transaction commits
    (now, outside one). Called from the domain's signals, inside the transaction that records the
    fact: a rolled-back fact is never told."""
    if not subscriptions.wanted(event.type):
        return
    occurred = timezone.now().isoformat()
    # robust: with Redis away the event is lost (and logged), but the box still gets its answer to
    # what is already committed; an exception here would reach the inbound pipeline's writer.
    transaction.on_commit(lambda: current_app.send_task(
        "webhooks.tasks.event_fan_out", args=[event.type, event.data, event.ref, occurred]), robust=True)


def event_body(*, event_id: uuid.UUID, event_type: str, occurred: str, data: dict) -> str:
    return json.dumps({"id": str(event_id), "type": event_type, "occurredAt": occurred, "data": data},
                      cls=DjangoJSONEncoder, separators=(",", ":"))


def deliveries_create(*, event_type: str, occurred: str, data: dict,
                      endpoints: list[Endpoint] | None = None) -> list[Delivery]:
    """One delivery of the event per endpoint that wants it (or per one of ``endpoints``), each
    queued after the commit."""
    if endpoints is None:
        endpoints = [e for e in Endpoint.objects.filter(active=True) if e.wants(event_type)]
    event_id = uuid.uuid4()
    body = event_body(event_id=event_id, event_type=event_type, occurred=occurred, data=data)
    made = Delivery.objects.bulk_create(
        [Delivery(endpoint=e, event_id=event_id, event_type=event_type, body=body) for e in endpoints])
    for delivery in made:
        transaction.on_commit(lambda pk=delivery.pk: current_app.send_task("webhooks.tasks.delivery_attempt",
                                                                           args=[pk]))
    return made


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    retry: bool
    status: int | None
    error: str
    latency_ms: int


def delivery_post(delivery: Delivery) -> Attempt:
    """POST the delivery's body to its endpoint once, signed now."""
    endpoint = delivery.endpoint
    if (problem := endpoint_url_problem(endpoint.url)) is not None:
        return Attempt(False, False, None, problem, 0)
    body = delivery.body.encode()
    timestamp = int(time.time())
    request = urllib.request.Request(endpoint.url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "evchong-webhooks/1",
        EVENT_HEADER: delivery.event_type, DELIVERY_HEADER: str(delivery.pk), TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(endpoint.secret, timestamp, body),
    })
    started = time.monotonic()
    status, error = None, ""
    try:
        # No proxies from the environment: the endpoint is whatever the operator registered.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as refused:
        status = refused.code
        error = f"HTTP {refused.code}"
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as failed:
        error = str(getattr(failed, "reason", failed))[:300] or type(failed).__name__
    latency_ms = int((time.monotonic() - started) * 1000)
    delivered = status is not None and 200 <= status < 300
    retry = not delivered and (status is None or status >= 500 or status in RETRIED_STATUSES)
    return Attempt(delivered, retry, status, error, latency_ms)


def delivery_record(*, delivery_id: int, attempt: Attempt, final: bool) -> None:
    """What an attempt got, on the delivery's row; ``final``: no attempt follows."""
    state = DeliveryState.DELIVERED if attempt.delivered else (
        DeliveryState.FAILED if final or not attempt.retry else DeliveryState.PENDING)
    now = timezone.now()
    Delivery.objects.filter(pk=delivery_id).update(
        state=state, response_status=attempt.status, latency_ms=attempt.latency_ms, error=attempt.error[:300],
        last_attempt=now, delivered=now if attempt.delivered else None)


def delivery_claim(delivery_id: int) -> Delivery | None:
    """The delivery with one more attempt counted, if it still waits for one: a conditional UPDATE,
    so that a task run again after its delivery succeeded or failed for good sends nothing."""
    claimed = Delivery.objects.filter(pk=delivery_id, state=DeliveryState.PENDING).update(attempts=F("attempts") + 1)
    if not claimed:
        return None
    return Delivery.objects.select_related("endpoint").get(pk=delivery_id)


def retry_delay(attempts: int) -> float:
    """Exponential back-off: base, 2 × base, 4 × base ... after the 1st, 2nd, 3rd failed attempt."""
    return settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempts - 1)


def deliveries_trim(*, now=None) -> int:
    """Delete finished deliveries older than WEBHOOK_LOG_DAYS; pending ones stay until they end."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_LOG_DAYS)
    deleted, _ = Delivery.objects.filter(created__lt=cutoff).exclude(state=DeliveryState.PENDING).delete()
    return deleted
