"""Group commit of the database work of every box this process holds.

Each frame a box sends (or we send it) must be in PostgreSQL before it is acknowledged: the data a
CALL carries, the frame and our answer in the box's journal, the box's sign of life. Done one frame
at a time, in a worker thread per frame, that was six statements and four commits per MeterValues,
and thousands of boxes queued for threads, pool connections and fsyncs (docs/performance.md).

Here a few writer threads, each with its own database connection, take whatever frames are waiting
(up to OCPP_BATCH) and do them in one transaction: each CALL's handler in a savepoint of its own (a
refused or broken frame takes back only its own writes), then the journal of the whole batch in one
INSERT and the boxes' signs of life in one UPDATE, then one commit, and only then are the answers
handed back to the consumers to send. A batch is whatever queued while the previous one ran: a
lone frame is written at once, a crowd shares commits. CALLs of one box never share a batch (a
consumer waits for its CALL's answer before it reads the next), so batches in different threads
touch different connectors, and lock no row in an order that could deadlock. A frame that is only
journaled (a CALL of ours that timed out) may be written beside one of its box's CALLs in another
thread: it locks no connector, and the sign of life both set is the later one or close to it.

An answer from the box to one of our durable commands (commands app) settles the command in the
same transaction as the frame's journal entry, and its waiters are woken once that commits: one
commit, not two, between the box's answer and the reverse-API caller's.

If a batch fails as a whole, each of its frames is done alone (core.groupcommit).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from chargers.choices import Direction, Protocol, RegistrationStatus
from chargers.models import ChargeBox, JournalEntry
from chargers.services import box_touch_due, boxes_by_pk
from commands.models import Command
from commands.services import command_settle, commands_wake
from core.bulk import copy_insert
from core.errors import UnknownChargeBox
from core.groupcommit import GroupCommit
from ocpp16.errors import ErrorCode, OcppError, error_for
from ocpp16.handlers import HANDLERS, handle, handler_for
from ocpp16.rpc import Call, error_frame, result_frame

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Job:
    """One frame's database work. ``call`` is a CALL to answer; without it the frame is only
    journaled (an answer from the box, or a CALL of ours about to be sent)."""

    box: ChargeBox
    frame: str
    direction: str
    action: str = ""
    call: Call | None = None
    error: OcppError | None = None  # a frame already found broken: journaled and answered with this
    # A CALL of ours that this frame answers: journaled just before it (ocpp16.consumer sends its
    # CALLs without waiting for a commit, and journals each with its answer or its end).
    sent: str = ""
    # The durable command this frame answers, and what became of it (commands.services).
    command_id: int | None = None
    outcome: dict | None = None
    settled: Command | None = field(default=None, repr=False)  # set once its outcome is written
    answer: str = ""
    gone: bool = False  # the box was deleted (in the admin) while connected: nothing to journal
    future: asyncio.Future | None = field(default=None, repr=False)

    @property
    def answers(self) -> bool:
        return self.call is not None or self.error is not None

    @property
    def unique_id(self) -> str | None:
        return self.call.unique_id if self.call else (self.error.unique_id if self.error else None)


def storable(frame: str) -> str:
    """A frame as the journal can keep it. JSON allows NUL only escaped, so a broken frame may carry
    a raw one, which PostgreSQL text cannot hold: failing to journal it closed the box's connection
    (1011) or turned a FormationViolation into an InternalError. Kept as the JSON escape instead."""
    return frame.replace("\x00", "\\u0000")


def box_is_fresh(box: ChargeBox) -> bool:
    """Whether the copy of the box a consumer holds can be trusted for this frame. An accepted box
    is read again every OCPP_BOX_REFRESH seconds (an operator may reject it in the admin); one that
    is not accepted is read for every frame, so that its acceptance takes effect at once."""
    read_at = getattr(box, "read_at", None)
    return (
        read_at is not None
        and box.registration_status == RegistrationStatus.ACCEPTED
        and time.monotonic() - read_at < settings.OCPP_BOX_REFRESH
    )


def box_mark_read(box: ChargeBox) -> None:
    box.read_at = time.monotonic()


def boxes_refresh(jobs: list[Job]) -> None:
    """Re-read, in one query, the boxes of this batch whose copies are stale. A box deleted in the
    admin while connected is answered as unknown."""
    stale = {job.box.pk: job.box for job in jobs if not box_is_fresh(job.box)}
    if not stale:
        return
    fresh = boxes_by_pk(list(stale))
    for pk, box in stale.items():
        if pk in fresh:
            for field_ in ChargeBox._meta.concrete_fields:
                setattr(box, field_.attname, getattr(fresh[pk], field_.attname))
            box_mark_read(box)
    for job in jobs:
        if job.box.pk in stale and job.box.pk not in fresh:
            job.gone = True
            if job.answers:
                job.error = error_for(UnknownChargeBox(f"unknown charge box {job.box.serial!r}"))
                job.error.unique_id = job.unique_id
                job.call = None


def answer_call(job: Job) -> str:
    if job.error is not None:
        return error_frame(job.error, job.unique_id)
    handler = HANDLERS.get(job.call.action)
    # A savepoint, so that a failing handler takes back its own writes only; one that only reads
    # has nothing to take back (and a statement that breaks the transaction fails the batch).
    savepoint = transaction.atomic() if handler is None or handler.writes else nullcontext()
    try:
        with savepoint:
            payload = handle(job.box, job.call)
    except OcppError as exc:
        return error_frame(exc, job.unique_id)
    box_rewritten(job)
    return result_frame(job.call.unique_id, payload)


def box_rewritten(job: Job) -> None:
    """A boot rewrote the box's row (firmware, model, last boot, ...): the consumer's copy is read
    again for its next frame, however the boot was answered, alone or in a batch."""
    if job.call.action == "BootNotification":
        job.box.read_at = None


def answer_batched(jobs: list[Job]) -> None:
    """Answer the CALLs whose action has a batch handler (MeterValues), all of an action at once."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        handler = HANDLERS.get(job.call.action) if job.call and not job.error else None
        if handler is None or handler.batch is None:
            continue
        try:
            handler_for(job.box, job.call)
        except OcppError as exc:
            job.answer = error_frame(exc, job.unique_id)
            continue
        groups.setdefault(job.call.action, []).append(job)
    for action, group in groups.items():
        results = HANDLERS[action].batch([(job.box, job.call.payload) for job in group])
        for job, result in zip(group, results, strict=True):
            if isinstance(result, OcppError):
                job.answer = error_frame(result, job.unique_id)
            else:
                job.answer = result_frame(job.call.unique_id, result)
                box_rewritten(job)


def batch_write(jobs: list[Job], *, bulk: bool = True) -> None:
    """Everything ``jobs`` cost, in one transaction; sets each job's answer. Without ``bulk`` every
    CALL goes through its own handler (the way a frame is retried alone)."""
    now = timezone.now()
    with transaction.atomic():
        boxes_refresh(jobs)
        if bulk:
            answer_batched(jobs)
        entries = []
        for job in jobs:
            if job.gone:
                job.answer = answer_call(job) if job.answers else ""
                continue
            if job.sent:
                entries.append((job.box.pk, now, Direction.OUT, Protocol.OCPP16, job.action, job.sent))
            entries.append((job.box.pk, now, job.direction, Protocol.OCPP16, job.action, storable(job.frame)))
            if job.answers:
                job.answer = job.answer or answer_call(job)
                entries.append((job.box.pk, now, Direction.OUT, Protocol.OCPP16, job.action, job.answer))
            if job.command_id is not None:
                outcome_store(job)
        copy_insert(JournalEntry, ("box_id", "at", "direction", "protocol", "action", "payload"), entries)
        # A frame from the box is a sign of life; one we send is not.
        due = {job.box.pk: job.box for job in jobs if job.direction == Direction.IN and not job.gone
               and box_touch_due(box=job.box, protocol=Protocol.OCPP16, now=now)}
        if due:
            ChargeBox.objects.filter(pk__in=list(due)).update(last_seen=now, protocol=Protocol.OCPP16)
    for box in due.values():
        box.last_seen, box.protocol = now, Protocol.OCPP16


# What a command becomes when the box's answer to it cannot be stored.
UNSTORABLE = {"status": "error", "code": ErrorCode.INTERNAL_ERROR,
              "description": "the charge box's answer could not be stored"}


def outcome_store(job: Job) -> None:
    """The outcome of the command ``job`` answers, in a savepoint of the batch's transaction."""
    try:
        with transaction.atomic():
            job.settled = command_settle(command_id=job.command_id, outcome=job.outcome)
    except DatabaseError:
        # An answer PostgreSQL cannot store (jsonb refuses a "\u0000" in a string) would leave the
        # command open until the sweep: it fails instead, saying why.
        log.exception("the outcome of command %s could not be stored", job.command_id)
        with transaction.atomic():
            job.settled = command_settle(command_id=job.command_id, outcome=UNSTORABLE)


def internal_error(job: Job) -> str:
    failure = OcppError(ErrorCode.INTERNAL_ERROR, "the central system could not process the message")
    return error_frame(failure, job.unique_id) if job.answers else ""


class Committer(GroupCommit):
    """The OCPP writer threads of one process (core.groupcommit)."""

    name = "ocpp-writer"

    async def submit(self, job: Job) -> str:
        """The job done and committed; its answer frame ("" for a frame that is only journaled)."""
        await self.submit_and_wait(job)
        return job.answer

    def write_batch(self, jobs: list[Job], *, alone: bool) -> None:
        batch_write(jobs, bulk=not alone)
        settled = [job.settled for job in jobs if job.settled is not None]
        if settled:
            commands_wake(settled)

    def write_failed(self, job: Job) -> None:
        job.answer = internal_error(job)
        if job.command_id is not None:
            # The frame could not be written even alone: the box's answer is still its command's,
            # written on its own (outcome_store's rule), not left for the sweep.
            try:
                with transaction.atomic():
                    outcome_store(job)
            except Exception:
                log.exception("command %s left open; the sweep will end it", job.command_id)
                return
            if job.settled is not None:
                commands_wake([job.settled])

    def job_reset(self, job: Job) -> None:
        # Read the box again: the usual cause is a box deleted while connected.
        job.answer, job.settled, job.box.read_at = "", None, None

    def job_name(self, job: Job) -> str:
        return f"OCPP {job.action or 'frame'} from {job.box.serial}"


@functools.cache
def committer() -> Committer:
    """The process's writer threads, made on first use."""
    return Committer(settings.OCPP_WRITERS, settings.OCPP_BATCH)
