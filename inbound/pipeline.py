"""A batch of messages from charge boxes, written in one transaction: the one place where what a
box sends is stored before it is acknowledged, for every protocol.

In order, for the whole batch at once:
1. the edge validates each request (no database work, so a broken one never reaches the
   transaction and costs only itself);
2. the boxes: those a connection holds are read again when their copy is stale, those named in
   the message (the forward API) are read in one query; each is checked (known, credentials,
   accepted) before its handler runs;
3. the handlers: those with a batch form (meter values, boots, status reports) run once per kind,
   the others one by one, each that writes in a savepoint (a refused message takes back only its
   own writes);
4. the journal of the batch in one INSERT, the boxes' signs of life in one UPDATE per protocol, the
   commands that the boxes' answers settle (their waiters are woken after the commit);
5. commit. The edge sends the answers only after that (inbound.writers).
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from chargers.choices import Direction, RegistrationStatus
from chargers.models import ChargeBox, JournalEntry
from chargers.services import box_found, box_require_accepted, box_touch_due, boxes_by_pk, boxes_read
from commands.outcomes import Outcome
from commands.services import command_settle
from core.bulk import rows_insert
from core.errors import UnknownChargeBox
from inbound.edge import Message

log = logging.getLogger(__name__)

JOURNAL_FIELDS = ("box_id", "at", "direction", "protocol", "action", "payload")

# What a command becomes when the box's answer to it cannot be stored.
UNSTORABLE = Outcome.error("InternalError", "the charge box's answer could not be stored")


def box_is_fresh(box: ChargeBox) -> bool:
    """Whether the copy of a box that a connection holds can be trusted for this message. An
    accepted box is read again every OCPP_BOX_REFRESH seconds (an operator may reject it in the
    admin); one that is not accepted is read for every message, so its acceptance counts at once."""
    read_at = getattr(box, "read_at", None)
    return (
        read_at is not None
        and box.registration_status == RegistrationStatus.ACCEPTED
        and time.monotonic() - read_at < settings.OCPP_BOX_REFRESH
    )


def box_mark_read(box: ChargeBox) -> None:
    box.read_at = time.monotonic()


def messages_prepare(messages: list[Message]) -> None:
    for message in messages:
        if message.answers and message.failure is None:
            try:
                message.edge.prepare(message)
            except Exception as exc:
                message.fail(exc)


def boxes_refresh(messages: list[Message]) -> None:
    """Re-read, in one query, the held boxes whose copies are stale; read the named ones in another.
    A held box deleted in the admin while connected is gone: its messages are refused as from an
    unknown box, and nothing of them is journaled."""
    stale = {m.box.pk: m.box for m in messages if m.box is not None and not m.serial and not box_is_fresh(m.box)}
    if stale:
        fresh = boxes_by_pk(list(stale))
        for pk, box in stale.items():
            if pk in fresh:
                for field_ in ChargeBox._meta.concrete_fields:
                    setattr(box, field_.attname, getattr(fresh[pk], field_.attname))
                box_mark_read(box)
        for message in messages:
            if message.box is not None and message.box.pk in stale and message.box.pk not in fresh:
                message.gone = True
                if message.answers and message.failure is None:
                    message.fail(UnknownChargeBox(f"unknown charge box {message.box.serial!r}"))
    named = [m for m in messages if m.serial and m.box is None and m.failure is None]
    if named:
        found = {box.serial: box for box in boxes_read("serial = ANY(%s)", [list({m.serial for m in named})])}
        for message in named:
            box = found.get(message.serial)
            try:
                if message.handler.known_box_only:
                    box_found(box, serial=message.serial, require_accepted=False)
                if box is not None:
                    message.edge.check_credentials(box, message)
            except Exception as exc:
                message.fail(exc)
                continue
            message.box = box


def message_may_run(message: Message) -> bool:
    """Whether the request's handler may run: the box it speaks for is accepted where it must be."""
    if not message.answers or message.failure is not None:
        return False
    if message.handler.accepted_only and message.box is not None:
        try:
            box_require_accepted(box=message.box)
        except Exception as exc:
            message.fail(exc)
            return False
    return True


def handlers_run(messages: list[Message], *, bulk: bool) -> None:
    batched: dict[tuple, list[Message]] = {}
    for message in messages:
        if not message_may_run(message):
            continue
        handler = message.handler
        if bulk and handler.batch is not None:
            batched.setdefault((id(message.edge), message.action), []).append(message)
            continue
        # A savepoint, so that a failing handler takes back its own writes only; one that only reads
        # has nothing to take back (and a statement that breaks the transaction fails the batch).
        try:
            with transaction.atomic() if handler.writes or not bulk else nullcontext():
                message.result = handler.run(message.box, message.request)
        except Exception as exc:
            message.fail(exc)
    for group in batched.values():
        results = group[0].handler.batch([(message.box, message.request) for message in group])
        for message, result in zip(group, results, strict=True):
            if isinstance(result, Exception):
                message.fail(result)
            else:
                message.result = result


def outcome_store(message: Message) -> None:
    """The outcome of the command ``message`` answers, in a savepoint of the batch's transaction."""
    try:
        with transaction.atomic():
            message.settled = command_settle(command_id=message.command_id, outcome=message.outcome)
    except DatabaseError:
        # An answer PostgreSQL cannot store (jsonb refuses a "\u0000" in a string) would leave the
        # command open until the sweep: it fails instead, saying why.
        log.exception("the outcome of command %s could not be stored", message.command_id)
        with transaction.atomic():
            message.settled = command_settle(command_id=message.command_id, outcome=UNSTORABLE)


def commit_unawaited() -> None:
    """This transaction's commit does not wait for its WAL to reach the disk. For a batch of answers
    to our own calls only (and what we journal of our calls): no box waits for them to be stored
    (an OCPP CALLRESULT is acknowledged by nobody; the broker has acknowledged a Kotodian Conf to
    the box before the bridge reads it), while a caller of the reverse API waits for exactly this
    commit, and its fdatasync was a tenth of the call (1.2-1.4 ms here). What it risks is the
    PostgreSQL server itself crashing in the next ~0.2 s: the outcome is lost, and the command ends
    as timed out, as if the bridge had died before writing it (docs/adr/0028)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def batch_write(messages: list[Message], *, bulk: bool = True) -> None:
    """Everything ``messages`` cost, in one transaction; sets each request's ``reply``. Without
    ``bulk`` no batch handler runs (the way a message is retried alone)."""
    messages_prepare(messages)
    now = timezone.now()
    with transaction.atomic():
        if not any(message.answers for message in messages):
            commit_unawaited()
        boxes_refresh(messages)
        handlers_run(messages, bulk=bulk)
        entries, due = [], {}
        for message in messages:
            edge, box = message.edge, message.box
            if message.answers:
                message.reply = edge.render(message)
                if message.failure is None and message.handler.rewrites_box and box is not None:
                    box.read_at = None  # the handler rewrote the box's row: the connection reads it again
            if box is None or message.gone:
                continue
            if message.sent:
                entries.append((box.pk, now, Direction.OUT, edge.protocol, message.action, message.sent))
            entries.append((box.pk, now, message.direction, edge.protocol, message.action, edge.journal_text(message)))
            # A request may go unanswered by its protocol's rules (Kotodian's telemetry): nothing sent.
            if message.answers and message.reply is not None:
                entries.append((box.pk, now, Direction.OUT, edge.protocol, message.action,
                                edge.journal_text(message, message.reply)))
            if message.command_id is not None:
                outcome_store(message)
            # A message from the box is a sign of life; one we send is not.
            if message.direction == Direction.IN and box_touch_due(box=box, protocol=edge.protocol, now=now):
                due.setdefault(edge.protocol, {})[box.pk] = box
        rows_insert(JournalEntry, JOURNAL_FIELDS, entries)
        for protocol, boxes in due.items():
            ChargeBox.objects.filter(pk__in=list(boxes)).update(last_seen=now, protocol=protocol)
    for protocol, boxes in due.items():
        for box in boxes.values():
            box.last_seen, box.protocol = now, protocol
