"""Group commit of the EVCHONG forward API: the requests of many boxes in one transaction.

A forward request is answered only once what it carries is in PostgreSQL. One request at a time
that was a pool connection, BEGIN, the box's row, its sign of life, the handler's statements, two
journal rows and COMMIT: under 50 boxes sending back to back, most of a request's CPU in the
server went to those round trips and PostgreSQL's share as much again (docs/performance.md).

Here writer threads (core.groupcommit) take the requests that are waiting and do them in one
transaction: every box in one read, each handler that writes in a savepoint of its own (a refused
request takes back only its own writes), the meterValues of the batch in one INSERT, the journal
of the batch in one INSERT and the boxes' signs of life in one UPDATE. Each request gets the answer
it would have had alone: the same checks in the same order (validation, box known and accepted,
credentials, then the method), the same error bodies (evchong_api.errors).
"""

from __future__ import annotations

import asyncio
import functools
from contextlib import nullcontext
from dataclasses import dataclass, field

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chargers.choices import Direction, Protocol
from chargers.models import ChargeBox, JournalEntry
from chargers.services import box_found, box_touch_due, boxes_read
from core.bulk import copy_insert
from core.groupcommit import GroupCommit
from evchong_api.parsing import EnvelopeError, parse_body


@dataclass(eq=False)
class Exchange:
    """One forward request: its view, its body (raw bytes, a document already parsed, or the
    EnvelopeError it was found to be) and its Authorization header; then its outcome, an answer or
    the exception it failed with (answered through evchong_api.errors)."""

    view: object  # an instance of evchong_api.views.ForwardView
    body: bytes | dict | EnvelopeError
    authorization: str = ""
    document: dict | None = None
    data: dict | None = None
    box: ChargeBox | None = None
    answer: dict | None = None
    failure: Exception | None = None
    future: asyncio.Future | None = field(default=None, repr=False)

    def fail(self, exc: Exception) -> None:
        self.failure, self.answer = exc, None


def exchanges_prepare(exchanges: list[Exchange]) -> None:
    """Parse and validate each body: no database work, so a broken request never reaches the
    transaction."""
    for exchange in exchanges:
        try:
            if isinstance(exchange.body, EnvelopeError):
                raise exchange.body
            exchange.document = exchange.body if isinstance(exchange.body, dict) else parse_body(exchange.body)
            exchange.data = exchange.view.validated(exchange.document)
        except Exception as exc:
            exchange.fail(exc)


def exchanges_write(exchanges: list[Exchange], *, bulk: bool = True) -> None:
    """Everything ``exchanges`` cost, in one transaction; sets each one's answer or failure.
    Without ``bulk`` each goes through its view's own ``handle`` in a savepoint (the way a request
    is retried alone)."""
    exchanges_prepare(exchanges)
    live = [exchange for exchange in exchanges if exchange.failure is None]
    if not live:
        return
    now = timezone.now()
    with transaction.atomic():
        serials = list({exchange.data["chargeBoxSerialNumber"] for exchange in live})
        boxes = {box.serial: box for box in boxes_read("serial = ANY(%s)", [serials])}
        batched: dict[type, list[Exchange]] = {}
        for exchange in live:
            view = exchange.view
            try:
                serial = exchange.data["chargeBoxSerialNumber"]
                box = boxes.get(serial)
                if view.require_known_box:
                    box = box_found(box, serial=serial)
                if box is not None:
                    view.check_credentials(box, exchange.authorization)
                exchange.box = box
                if bulk and view.handle_batch is not None:
                    batched.setdefault(type(view), []).append(exchange)
                    continue
                # A savepoint, so that a failing handler takes back its own writes only; one that
                # only reads has nothing to take back (and a broken statement fails the batch).
                with transaction.atomic() if view.writes or not bulk else nullcontext():
                    exchange.answer = view.handle(box, exchange.data)
            except Exception as exc:
                exchange.fail(exc)
        for view_class, group in batched.items():
            results = view_class.handle_batch([(exchange.box, exchange.data) for exchange in group])
            for exchange, result in zip(group, results, strict=True):
                if isinstance(result, Exception):
                    exchange.fail(result)
                else:
                    exchange.answer = result
        done = [exchange for exchange in live if exchange.failure is None and exchange.box is not None]
        journal_rows = []
        for exchange in done:
            pk, action = exchange.box.pk, exchange.view.method
            journal_rows.append((pk, now, Direction.IN, Protocol.EVCHONG, action, orjson.dumps(exchange.document).decode()))
            journal_rows.append((pk, now, Direction.OUT, Protocol.EVCHONG, action, orjson.dumps(exchange.answer).decode()))
        copy_insert(JournalEntry, ("box_id", "at", "direction", "protocol", "action", "payload"), journal_rows)
        # Every request from a known box is a sign of life, written at most every LAST_SEEN_RESOLUTION.
        due = {exchange.box.pk: exchange.box for exchange in done
               if box_touch_due(box=exchange.box, protocol=Protocol.EVCHONG, now=now)}
        if due:
            ChargeBox.objects.filter(pk__in=list(due)).update(last_seen=now, protocol=Protocol.EVCHONG)


class ForwardCommitter(GroupCommit):
    """The forward API's writer threads of one process."""

    name = "evchong-writer"

    async def submit(self, exchange: Exchange) -> Exchange:
        await self.submit_and_wait(exchange)
        return exchange

    def write_batch(self, jobs: list[Exchange], *, alone: bool) -> None:
        exchanges_write(jobs, bulk=not alone)

    def write_failed(self, job: Exchange) -> None:
        job.fail(RuntimeError("the request could not be processed"))  # answered as a 500

    def job_reset(self, job: Exchange) -> None:
        job.document = job.data = job.box = job.answer = job.failure = None

    def job_name(self, job: Exchange) -> str:
        return f"EVCHONG {job.view.method}"


@functools.cache
def committer() -> ForwardCommitter:
    """The process's writer threads, made on first use."""
    return ForwardCommitter(settings.EVCHONG_WRITERS, settings.EVCHONG_BATCH)
