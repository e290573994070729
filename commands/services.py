"""Issuing Central-System-initiated calls and recording what became of them.

Issuing checks and claims what it needs under a row lock, commits, and hands delivery to a Celery
task on commit. The edge that holds the box's connection sends the call and reports the outcome
through ``command_record_outcome``, which also pushes it to a Redis reply key for synchronous
callers (``command_wait``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from datetime import timedelta

import orjson
import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from chargers.choices import ChargePointStatus
from chargers.models import ChargeBox, Connector
from chargers.reservations import reservation_blocking, reservation_request, reservations_held_by_others
from chargers.services import connector_read
from commands.dispatch import dispatch_on_commit
from commands.effects import command_effect_apply, moment_in
from commands.models import OPEN_STATES, Command, CommandState
from core.bulk import assignments
from core.errors import DomainError

log = logging.getLogger(__name__)

REMOTE_START = "RemoteStartTransaction"
REMOTE_STOP = "RemoteStopTransaction"
RESERVE_NOW = "ReserveNow"
# Answers that mean "done as asked" (OCPP 1.6 §7: UnlockStatus, ConfigurationStatus, ...).
# "Scheduled" (AvailabilityStatus, §5.2): accepted, carried out when the running session ends.
POSITIVE_STATUSES = {"Accepted", "Unlocked", "RebootRequired", "Scheduled"}
BUSY_STATUSES = {
    ChargePointStatus.CHARGING, ChargePointStatus.SUSPENDED_EV, ChargePointStatus.SUSPENDED_EVSE,
    ChargePointStatus.FINISHING,
}


class CommandRefused(DomainError):
    """The command cannot be sent; the message says why, in words for the EVCHONG backend's users.
    Never leaves this module: a refusal becomes a rejected Command row."""


def reply_key(command_id: int) -> str:
    return f"evchong:command:{command_id}:reply"


_redis_clients: dict[float, redis.Redis] = {}
_redis_clients_lock = threading.Lock()
# Longer than any wait we make on this client.
_WAIT_READ_TIMEOUT = 300
# A wake-up is two quick commands: a Redis that stalls longer fails it (logged; the row stands)
# rather than hold up the box's connection, which records the outcome, for minutes.
_PUSH_READ_TIMEOUT = 5


def _redis(read_timeout: float) -> redis.Redis:
    """The process's client for commands that may take up to ``read_timeout`` seconds, made once.
    Under the lock: threads that first met no client each made one, and a client dropped that way
    closes its pool when collected, connections in use included. A burst of answers in a fresh
    server process did just that, and the threads still using those connections failed with "I/O
    operation on closed file" (seen under a reverse-API burst)."""
    client = _redis_clients.get(read_timeout)
    if client is not None:
        return client
    with _redis_clients_lock:
        if read_timeout not in _redis_clients:
            # redis-py's default read timeout (5 s) would cut a BLPOP that waits longer.
            _redis_clients[read_timeout] = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=read_timeout)
        return _redis_clients[read_timeout]


def box_command_channel(box: ChargeBox) -> str | None:
    """Why a box cannot take commands now, or None when it can."""
    from chargers.choices import Protocol

    if box.protocol == Protocol.EVCHONG:
        return "the charge box speaks only the EVCHONG forward API, which has no channel for commands"
    if not box.connected_node:
        return "the charge box is not connected"
    return None


def _create(*, box, action, payload, requested_by, source, **extra) -> Command:
    command = Command.objects.create(
        box=box, action=action, payload=payload, requested_by=requested_by, source=source, **extra
    )
    dispatch_on_commit(command.pk)
    return command


def command_payload_for_schema(action: str, payload: dict) -> dict:
    """The payload to check against the action's schema before issuing it. A ReserveNow's
    reservationId is ours to give (docs/adr/0007), so a caller may leave it out."""
    if action == RESERVE_NOW and "reservationId" not in payload:
        return {**payload, "reservationId": 1}
    return payload


def command_issue(*, box: ChargeBox, action: str, payload: dict, requested_by=None, source: str = "") -> Command:
    """Any OCPP 1.6 Central-System call, its payload already checked against the action's schema by
    the caller's edge (see ``command_payload_for_schema``)."""
    if action == REMOTE_START:
        return remote_start_issue(
            box=box, connector_id=payload.get("connectorId"), id_tag=payload["idTag"], payload=payload,
            requested_by=requested_by, source=source,
        )
    if action == REMOTE_STOP:
        return remote_stop_issue(
            box=box, transaction_id=payload["transactionId"], requested_by=requested_by, source=source
        )
    if action == RESERVE_NOW:
        return reserve_now_issue(box=box, payload=payload, requested_by=requested_by, source=source)
    if (why := box_command_channel(box)) is not None:
        return _refused(box=box, action=action, payload=payload, requested_by=requested_by, source=source,
                        refusal=CommandRefused(why))
    with transaction.atomic():
        return _create(box=box, action=action, payload=payload, requested_by=requested_by, source=source)


def remote_start_issue(
    *, box: ChargeBox, connector_id: int | None, id_tag: str, payload: dict | None = None, requested_by=None,
    source: str = "",
) -> Command:
    """Of several concurrent remote starts on one connector exactly one is issued (EVCHONG 1 g).

    The connector row is locked; a start is refused while the connector is busy, faulted,
    unavailable, reserved for someone else or claimed by another pending remote start. The claim
    lasts until the box's StartTransaction arrives, the box refuses, or REMOTE_START_CLAIM_SECONDS pass.
    A refusal is recorded too, as a rejected command that says why.
    """
    payload = payload or {"connectorId": connector_id, "idTag": id_tag}
    try:
        with transaction.atomic():
            connector, claim = _remote_start_claim(box=box, connector_id=connector_id, id_tag=id_tag)
            return _create(
                box=box, action=REMOTE_START, payload=payload, requested_by=requested_by, source=source,
                connector=connector, claim_until=claim,
            )
    except CommandRefused as refusal:
        return _refused(box=box, action=REMOTE_START, payload=payload, requested_by=requested_by, source=source,
                        refusal=refusal)


def _remote_start_claim(*, box: ChargeBox, connector_id: int | None, id_tag: str):
    if (why := box_command_channel(box)) is not None:
        raise CommandRefused(why, field="chargeBoxSerialNumber")
    if connector_id is None:  # the box picks a connector (OCPP 1.6 §5.11): nothing to claim
        return None, None
    if _connector_claimed(box=box, connector_id=connector_id, now=timezone.now()):
        # Before the lock: of a burst of starts on one connector, all but the first find the claim
        # here without queueing for the lock behind each other. A claim seen committed is one the
        # locked check below would see too; one not yet seen is the locked check's to find.
        raise CommandRefused(ANOTHER_START_PENDING, field="connectorId")
    connector = connector_read(box=box, connector_id=connector_id, lock=True) if connector_id != 0 else None
    if connector is None:
        raise CommandRefused(f"charge box {box.serial} has no connector {connector_id}", field="connectorId")
    now = timezone.now()
    in_session, claimed, reserved = _connector_taken(connector, now, id_tag)
    if connector.status in BUSY_STATUSES or in_session:
        raise CommandRefused("the connector is in use by another user", field="connectorId")
    if connector.status == ChargePointStatus.FAULTED:
        raise CommandRefused("the connector is faulted", field="connectorId")
    if connector.status == ChargePointStatus.UNAVAILABLE:
        raise CommandRefused("the connector is unavailable", field="connectorId")
    # Our reservations decide, not the connector's Reserved status: the holder may start (the box
    # lets them, OCPP 1.6 §5.13), and a reservation we do not know of is the box's to enforce.
    if reserved and reservation_blocking(box=box, connector_id=connector_id, id_tag=id_tag, now=now) is not None:
        raise CommandRefused("the connector is reserved for another user", field="connectorId")
    if claimed:
        raise CommandRefused(ANOTHER_START_PENDING, field="connectorId")
    return connector, now + timedelta(seconds=settings.REMOTE_START_CLAIM_SECONDS)


def _connector_taken(connector: Connector, now, id_tag: str) -> tuple[bool, bool, bool]:
    """(a session is open on the connector, a remote start claims it, a reservation of someone else's
    may keep ``id_tag`` off it), read once its row is locked.

    A statement of its own after the lock, not a part of the locking one: in READ COMMITTED the
    locking statement's subqueries see the database as it was before it waited for the lock, and
    would miss the claim that the transaction it waited for has just committed. One statement for
    all three, as the reverse API issues a burst of starts one after another: every round trip of
    the issue step also waits for the interpreter lock (docs/performance.md)."""
    from transactions.models import Transaction

    held, held_params = reservations_held_by_others(box=connector.box, connector_id=connector.connector_id,
                                                    id_tag=id_tag, now=now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {Transaction._meta.db_table}"
            "                WHERE connector_id = %s AND stopped_at IS NULL),"
            f"       EXISTS (SELECT 1 FROM {Command._meta.db_table} WHERE connector_id = %s AND claim_until > %s),"
            f"       EXISTS (SELECT 1 {held})",
            [connector.pk, connector.pk, now, *held_params],
        )
        return cursor.fetchone()


ANOTHER_START_PENDING = "another remote start is pending on this connector"


def _connector_claimed(*, box: ChargeBox, connector_id: int, now) -> bool:
    """Whether a pending remote start claims the connector (unlocked: the pre-check). As SQL, since
    every remote start asks: through the ORM, building this join cost more than running it.

    The connector is found first, by its own subquery, so that the claims are looked up by its id:
    written as a join, the planner, misled by statistics of minutes ago (a fresh system, or the
    claims of a burst), went through every claim held and matched each to the connector, which
    under a burst of 1,000 remote starts was 0.7 ms of PostgreSQL per start, the most of any
    statement (pg_stat_statements, docs/performance.md)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {Command._meta.db_table}"
            f"               WHERE connector_id = (SELECT id FROM {Connector._meta.db_table}"
            "                                      WHERE box_id = %s AND connector_id = %s)"
            "                AND claim_until > %s)",
            [box.pk, connector_id, now],
        )
        return cursor.fetchone()[0]


def reserve_now_issue(*, box: ChargeBox, payload: dict, requested_by=None, source: str = "") -> Command:
    """A ReserveNow: its reservation row is created in 'requested' with the command, and the row's
    id is the reservationId the box is sent; the box's answer settles it (commands.effects).
    Whether the connector can be reserved is the box's to answer (Occupied, Faulted, ...): only a box
    without a command channel or a connector number that cannot exist is refused here."""
    try:
        with transaction.atomic():
            if (why := box_command_channel(box)) is not None:
                raise CommandRefused(why, field="chargeBoxSerialNumber")
            reservation = reservation_request(
                box=box, connector_id=payload["connectorId"], id_tag=payload["idTag"],
                parent_id_tag=payload.get("parentIdTag", ""),
                expiry_date=moment_in(payload["expiryDate"], "expiryDate"),
                reservation_id=payload.get("reservationId"),
            )
            return _create(box=box, action=RESERVE_NOW, payload={**payload, "reservationId": reservation.pk},
                           requested_by=requested_by, source=source)
    except DomainError as refusal:
        return _refused(box=box, action=RESERVE_NOW, payload=payload, requested_by=requested_by, source=source,
                        refusal=refusal)


def remote_stop_issue(*, box: ChargeBox, transaction_id: int, requested_by=None, source: str = "") -> Command:
    from transactions.models import Transaction

    payload = {"transactionId": transaction_id}
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # As SQL, as the remote start's claim: the reverse API issues stops in bursts too.
            cursor.execute(
                f"SELECT stopped_at IS NOT NULL FROM {Transaction._meta.db_table} WHERE id = %s AND box_id = %s"
                " FOR UPDATE",
                [transaction_id, box.pk],
            )
            found = cursor.fetchone()
            if found is None:
                raise CommandRefused(f"unknown transaction {transaction_id} on {box.serial}", field="transactionId")
            if found[0]:
                raise CommandRefused("the charging session has already stopped", field="transactionId")
            # A stop the box has accepted is still in flight until its StopTransaction arrives: like a
            # remote start, it claims the session for a while (a refusal or failure frees it at once).
            # A statement of its own after the lock, for the reason _connector_taken gives.
            cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM {Command._meta.db_table} WHERE box_id = %s AND action = %s"
                "                AND transaction_id = %s AND claim_until > %s)",
                [box.pk, REMOTE_STOP, transaction_id, timezone.now()],
            )
            if cursor.fetchone()[0]:
                raise CommandRefused("a stop is already in flight for this session", field="transactionId")
            if (why := box_command_channel(box)) is not None:
                raise CommandRefused(why, field="chargeBoxSerialNumber")
            return _create(
                box=box, action=REMOTE_STOP, payload=payload, requested_by=requested_by, source=source,
                transaction_id=transaction_id,
                claim_until=timezone.now() + timedelta(seconds=settings.REMOTE_START_CLAIM_SECONDS),
            )
    except CommandRefused as refusal:
        return _refused(box=box, action=REMOTE_STOP, payload=payload, requested_by=requested_by, source=source,
                        refusal=refusal)


def command_refuse(*, box: ChargeBox, action: str, payload: dict, reason: str, requested_by=None,
                   source: str = "") -> Command:
    """A command that a rule of the caller's own interface forbids (EVCHONG rule 1 h: firmware over
    FTP or FTPS only), never sent: a rejected row with the reason, as the domain's refusals are."""
    return _refused(box=box, action=action, payload=payload, requested_by=requested_by, source=source,
                    refusal=CommandRefused(reason))


def _refused(*, box, action, payload, requested_by, source, refusal: DomainError) -> Command:
    return Command.objects.create(
        box=box, action=action, payload=payload, requested_by=requested_by, source=source,
        state=CommandState.REJECTED, error_code="Refused", error_description=refusal.message[:500],
        answered_at=timezone.now(),
    )


def command_claim_delivery(command_ids: list[int]) -> list[Command]:
    """Claim delivery: of ``command_ids``, the commands this task run may send, with what their
    boxes' delivery needs (serial, protocol, where each is connected); none that another run
    claimed first (a redelivered task) or that is no longer queued.

    One statement for the lot, where a claim and then a read were two round trips to PostgreSQL
    for every command, the worker's main cost under a burst of reverse calls."""
    command_table, box_table = Command._meta.db_table, ChargeBox._meta.db_table
    claimed = list(Command.objects.raw(
        f"UPDATE {command_table} AS c SET state = %s, sent_at = %s FROM {box_table} AS b"
        f" WHERE c.id = ANY(%s) AND c.state = %s AND b.id = c.box_id"
        " RETURNING c.id, c.box_id, c.action, c.payload, c.created,"
        " b.serial AS box_serial, b.protocol AS box_protocol, b.connected_node AS box_connected_node",
        [CommandState.SENT, timezone.now(), list(command_ids), CommandState.QUEUED],
    ))
    for command in claimed:
        command.state = CommandState.SENT
        command.box = ChargeBox(pk=command.box_id, serial=command.box_serial, protocol=command.box_protocol,
                                connected_node=command.box_connected_node)
    return sorted(claimed, key=lambda command: command.pk)  # in the order they were issued


def command_record_outcome(*, command_id: int, outcome: dict, states=OPEN_STATES) -> Command | None:
    """Store what the box answered, once, and wake whoever waits.

    ``outcome`` is {"status": "answered", "payload": {...}} | {"status": "error", "code", "description"}
    | {"status": "timeout"} | {"status": "offline", "description"}. Only a command in one of
    ``states`` is settled (default: any open one).
    """
    with transaction.atomic():
        command = command_settle(command_id=command_id, outcome=outcome, states=states)
    if command is None:  # settled before (a late answer after the timeout): the row as it stands
        return Command.objects.filter(pk=command_id).first()
    commands_wake([command])  # after the commit, so that whoever wakes sees the effect too
    return command


def command_settle(*, command_id: int, outcome: dict, states=OPEN_STATES) -> Command | None:
    """The outcome written on the command's row and its effect applied, in the caller's
    transaction; None when the command was settled before. Whoever commits that transaction wakes
    the waiters afterwards (``commands_wake``): ``command_record_outcome`` alone, or the OCPP
    writers, which store a box's answer with the frame that carried it (ocpp16.committer)."""
    now = timezone.now()
    kind = outcome.get("status")
    fields: dict = {"answered_at": now}
    if kind == "answered":
        response = outcome.get("payload") or {}
        fields["response"] = response
        status = response.get("status") if isinstance(response, dict) else None
        fields["state"] = CommandState.ACCEPTED if status is None or status in POSITIVE_STATUSES else CommandState.REJECTED
    elif kind == "timeout":
        fields.update(state=CommandState.TIMED_OUT, error_code="Timeout",
                      error_description="the charge box did not answer in time")
    else:
        fields.update(state=CommandState.FAILED, error_code=str(outcome.get("code") or "Offline")[:40],
                      error_description=str(outcome.get("description") or "the charge box disconnected before answering")[:500])
    if fields["state"] != CommandState.ACCEPTED:
        fields["claim_until"] = None  # a refused or failed remote start frees its connector at once
    command = _settle(command_id, fields, states)
    if command is not None:
        # In the same transaction as the state: the effect runs once, with the answer it follows.
        command_effect_apply(command)
    return command


def commands_wake(commands: list[Command]) -> None:
    """Wake the waiters of committed outcomes, all in one round trip to Redis. Never raises: the
    outcomes are committed, and a waiter not woken reads its row at its deadline. Raising here
    would have closed a box's connection for a Redis hiccup."""
    try:
        pipe = _redis(_PUSH_READ_TIMEOUT).pipeline()
        for command in commands:
            key = reply_key(command.pk)
            pipe.rpush(key, orjson.dumps({name: getattr(command, name) for name in _REPLY_FIELDS}))
            pipe.expire(key, settings.COMMAND_REPLY_TTL_SECONDS)
        pipe.execute()
    except Exception:
        log.exception("commands %s: their outcomes are stored, but their waiters could not be woken",
                      [command.pk for command in commands])


def _settle(command_id: int, fields: dict, states=OPEN_STATES) -> Command | None:
    """The command with ``fields`` set if its state is one of ``states``, in one statement
    (UPDATE ... RETURNING), or None when it is not. Every answer from a box comes through here: an update and then a read
    back through the ORM cost twice the CPU of the rest of recording it."""
    assigned, values = assignments(Command, fields)
    return next(iter(Command.objects.raw(
        f"UPDATE {Command._meta.db_table} SET {assigned}"
        f" WHERE id = %s AND state IN ({', '.join(['%s'] * len(states))}) RETURNING *",
        [*values, command_id, *states],
    )), None)


def command_expire_stale(*, older_than: timedelta) -> int:
    """Commands nobody answered (a server died mid-call) end as timed out; expired claims go."""
    now = timezone.now()
    stale = list(
        Command.objects.filter(state__in=OPEN_STATES, created__lt=now - older_than).values_list("pk", flat=True)
    )
    for pk in stale:
        command_record_outcome(command_id=pk, outcome={"status": "timeout"})
    Command.objects.filter(claim_until__lt=now).update(claim_until=None)
    return len(stale)


def remote_start_claims_release(*, connector: Connector) -> None:
    """The box's StartTransaction has arrived: the connector is no longer merely claimed."""
    Command.objects.filter(connector=connector, claim_until__isnull=False).update(claim_until=None)


# What a reply carries: enough of the row for a waiter to answer its caller without reading it back.
_REPLY_FIELDS = ("state", "response", "error_code", "error_description")


def command_wait(command: Command, timeout: float) -> Command:
    """Block until the command is answered or ``timeout`` passes; the row is the truth either way."""
    if command.is_open:
        _redis(_WAIT_READ_TIMEOUT).blpop([reply_key(command.pk)], timeout=max(timeout, 0.01))
    command.refresh_from_db()
    return command


# One client per event loop (a redis.asyncio connection belongs to the loop that opened it). Its
# pool keeps the connections of finished waits for the next ones: opening one per waiter cost a
# connect and a close per reverse call, a thousand at a time under load. A BLPOP holds its
# connection for the whole wait, so the pool is as large as the waits a process may hold, and one
# beyond that waits for a connection instead of failing (redis-py's default pool raises past 100).
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
WAITERS_MAX = 2000


def _redis_async():
    import redis.asyncio as aioredis

    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = aioredis.BlockingConnectionPool.from_url(settings.REDIS_URL, max_connections=WAITERS_MAX,
                                                        timeout=None, socket_timeout=_WAIT_READ_TIMEOUT)
        client = _async_clients[loop] = aioredis.Redis(connection_pool=pool)
    return client


async def command_wait_async(command_id: int, timeout: float) -> Command | None:
    """The same wait for async views, holding no thread: the command as answered (an unsaved
    Command carrying the outcome that was committed on its row), or None if ``timeout`` passed."""
    try:
        # Bounded here too: a wait for a free connection must not stretch the caller's time.
        async with asyncio.timeout(max(timeout, 0.01) + 1):
            popped = await _redis_async().blpop([reply_key(command_id)], timeout=max(timeout, 0.01))
    except TimeoutError:
        return None
    if popped is None:
        return None
    reply = orjson.loads(popped[1])
    return Command(pk=command_id, **{name: reply[name] for name in _REPLY_FIELDS if name in reply})
