"""Issuing calls to boxes and settling what became of them.

Issuing checks and claims what it needs under a row lock, commits, and hands delivery to a Celery
task on commit (commands.dispatch, commands.tasks), which gives each command to the edge of its
box's protocol (commands.edges). That edge sends the call and settles the command with the box's
answer through ``command_settle``, the one way a command ends; whoever waits is woken through
commands.replies.
"""

from __future__ import annotations

import atexit
import logging
from datetime import timedelta

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from celery import current_app

from chargers.choices import ChargePointStatus, RegistrationStatus
from chargers.models import ChargeBox, Connector
from chargers.reservations import reservation_blocking, reservation_request, reservations_held_by_others
from chargers.services import box_approve, connector_read
from commands.dispatch import Dispatcher
from commands.edges import CommandInvalid, command_edge
from commands.effects import command_effect_apply, moment_in, remote_start_profile_keep
from commands.models import OPEN_STATES, Command, CommandState
from commands.outcomes import Outcome, OutcomeKind
from commands.replies import command_session_wake_after_commit, command_wake_after_commit
from commands.signals import command_finished
from core.bulk import assignments
from core.errors import DomainError
from firmware.services import diagnostics_upload_open
from transactions.models import Transaction

log = logging.getLogger(__name__)

REMOTE_START = "RemoteStartTransaction"
TRIGGER_MESSAGE = "TriggerMessage"
REMOTE_STOP = "RemoteStopTransaction"
RESERVE_NOW = "ReserveNow"
GET_DIAGNOSTICS, GET_LOG = "GetDiagnostics", "GetLog"
# Answers that mean "done as asked" (OCPP 1.6 §7: UnlockStatus, ConfigurationStatus, ...).
# "Scheduled" (AvailabilityStatus, §5.2): accepted, carried out when the running session ends.
# "AcceptedCanceled" (Kotodian's GetLog and UpdateFirmware, as OCPP 2.0.1's): accepted, the one
# running before cancelled.
POSITIVE_STATUSES = {"Accepted", "Unlocked", "RebootRequired", "Scheduled", "AcceptedCanceled"}
BUSY_STATUSES = {
    ChargePointStatus.CHARGING, ChargePointStatus.SUSPENDED_EV, ChargePointStatus.SUSPENDED_EVSE,
    ChargePointStatus.FINISHING,
}


class CommandRefused(DomainError):
    """The command cannot be sent; the message says why, in words for the EVCHONG backend's users.
    Never leaves this module: a refusal becomes a rejected Command row."""


def box_command_channel(box: ChargeBox) -> str | None:
    """Why a box cannot take commands now, or None when it can."""
    if box.registration_status == RegistrationStatus.REJECTED:
        # A Pending box may be sent calls (OCPP 1.6 §4.2.1: to configure it, or make it boot again).
        return "the charge box is rejected: accept it before sending it commands"
    if box.protocol and command_edge(box.protocol) is None:
        return f"the charge box speaks {box.get_protocol_display()}, which has no channel for commands"
    if not box.connected_node:
        return "the charge box is not connected"
    return None


def _create(*, box, action, payload, requested_by, source, **extra) -> Command:
    command = Command.objects.create(
        box=box, action=action, payload=payload, requested_by=requested_by, source=source, **extra
    )
    transaction.on_commit(lambda: dispatcher.add(command.pk))
    return command


def command_issue(*, box: ChargeBox, action: str, payload: dict, requested_by=None, source: str = "") -> Command:
    """Any call to a box, its payload already checked by ``command_validate``."""
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
        upload = None
        if _wants_upload_place(action, payload):
            # A place of the box's own on our FTP server (firmware.services): the file it uploads
            # lands there, attached to the box and to this command.
            upload = diagnostics_upload_open(box=box)
            payload = _upload_place_given(action, payload, upload.url)
        command = _create(box=box, action=action, payload=payload, requested_by=requested_by, source=source)
        if upload is not None:
            upload.command = command
            upload.save(update_fields=["command"])
        return command


def _wants_upload_place(action: str, payload: dict) -> bool:
    """A GetDiagnostics (OCPP, Kotodian) or GetLog (Kotodian) that names no place to upload to."""
    if action == GET_DIAGNOSTICS:
        return not payload.get("location")
    return action == GET_LOG and not (payload.get("log") or {}).get("remoteLocation")


def _upload_place_given(action: str, payload: dict, url: str) -> dict:
    if action == GET_DIAGNOSTICS:
        return {**payload, "location": url}
    return {**payload, "log": {**(payload.get("log") or {}), "remoteLocation": url}}


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
    if connector_id is None:
        # The box picks a connector (OCPP 1.6 §5.11): none is claimed, but the claim's time still
        # bounds which session start this remote start may be linked to (remote_start_claims_release).
        return None, timezone.now() + timedelta(seconds=settings.REMOTE_START_CLAIM_SECONDS)
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


# What a GetDiagnostics without a location is checked with: command_issue fills in the system's own.
_SYSTEM_LOCATION = "ftp://diagnostics.invalid/"


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
    with transaction.atomic():
        # The claim is on every reverse call's way to its box, and waiting for its WAL to reach the
        # disk was a fifth of the call (1.2-1.4 ms of fdatasync here). Not waiting risks only this:
        # PostgreSQL itself crashing in the next ~0.2 s loses the claim (the commands are queued
        # again, and the sweep or the box's answer ends them), which sends one twice only if this
        # worker also dies before acknowledging the task (docs/adr/0028).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
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


def command_settle(*, command_id: int, outcome: Outcome, states=OPEN_STATES) -> Command | None:
    """The one way a command ends: ``outcome`` written on its row, once (only a command in one of
    ``states``, by default any open one), its effect applied (commands.effects) in the same
    transaction, and its waiters woken after the commit (commands.replies). In the caller's
    transaction if there is one: the inbound pipeline settles a box's answer with the message that
    carried it. The command as it stands; None for an unknown id."""
    fields: dict = {"answered_at": timezone.now()}
    if outcome.kind == OutcomeKind.ANSWERED:
        response = outcome.payload
        fields["response"] = response
        status = response.get("status") if isinstance(response, dict) else None
        fields["state"] = CommandState.ACCEPTED if status is None or status in POSITIVE_STATUSES else CommandState.REJECTED
    elif outcome.kind == OutcomeKind.TIMEOUT:
        fields.update(state=CommandState.TIMED_OUT, error_code="Timeout",
                      error_description="the charge box did not answer in time")
    else:
        fields.update(state=CommandState.FAILED, error_code=(outcome.code or "Offline")[:40],
                      error_description=(outcome.description or "the charge box disconnected before answering")[:500])
    if fields["state"] != CommandState.ACCEPTED:
        fields["claim_until"] = None  # a refused or failed remote start frees its connector at once
    with transaction.atomic():
        command = _settle(command_id, fields, states)
        if command is None:  # settled before (a late answer after the timeout): the row as it stands
            return Command.objects.filter(pk=command_id).first()
        # In the same transaction as the state: the effect runs once, with the answer it follows.
        command_effect_apply(command)
        command_wake_after_commit(command)
        command_finished.send(sender=Command, command=command)
    return command


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
        command_settle(command_id=pk, outcome=Outcome.timeout())
    Command.objects.filter(claim_until__lt=now).update(claim_until=None)
    return len(stale)


def remote_start_claims_release(*, transaction: Transaction, **_sent_with) -> None:
    """The box's StartTransaction has arrived: the connector is no longer merely claimed, and the
    remote start it answers learns which session it became. That is a start with the session's idTag
    (CiString: compared without case) claiming this connector, or one that left the box to pick the
    connector; its TxProfile, if it carried one, is kept with the session, and whoever waits for the
    session (the operations API's waitForTransaction) is woken once this commits."""
    session, connector = transaction, transaction.connector
    table = Command._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET claim_until = NULL, transaction_id = CASE"
            "   WHEN lower(payload->>'idTag') = lower(%s) AND transaction_id IS NULL THEN %s ELSE transaction_id END"
            " WHERE action = %s AND claim_until IS NOT NULL AND (connector_id = %s"
            "   OR (box_id = %s AND connector_id IS NULL AND lower(payload->>'idTag') = lower(%s)))"
            " RETURNING id, transaction_id, payload->'chargingProfile'",
            [session.id_tag, session.pk, REMOTE_START, connector.pk, connector.box_id, session.id_tag],
        )
        released = cursor.fetchall()
    for command_id, session_id, profile in released:
        if session_id != session.pk:
            continue
        if isinstance(profile, str):  # jsonb comes back as text through Django's cursor
            profile = orjson.loads(profile)
        if profile is not None:
            remote_start_profile_keep(command_id=command_id, box=connector.box, connector_id=connector.connector_id,
                                      transaction_id=session.pk, profile=profile)
        command_session_wake_after_commit(command_id, session.pk)


def remote_stop_hold_release(*, transaction: Transaction, **_sent_with) -> None:
    """The session has stopped: a remote stop sent for it holds it no longer (its claim), so a
    later stop is refused for the session having stopped, not for a stop in flight."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Command._meta.db_table} SET claim_until = NULL"
            " WHERE box_id = %s AND claim_until IS NOT NULL AND action = %s AND transaction_id = %s",
            [transaction.box_id, REMOTE_STOP, transaction.pk],
        )


def box_boot_request(*, box: ChargeBox, requested_by=None, source: str = "") -> Command | None:
    """Ask a box that has just been accepted to boot again now (TriggerMessage BootNotification,
    OCPP 1.6 §5.17), so that it learns it is accepted instead of waiting for its next boot retry;
    None when its protocol has no such call or it cannot be reached now (it learns at its next boot)."""
    edge = command_edge(box.protocol or settings.COMMAND_DEFAULT_PROTOCOL)
    if edge is None or TRIGGER_MESSAGE not in edge.actions or box_command_channel(box) is not None:
        return None
    with transaction.atomic():
        return _create(box=box, action=TRIGGER_MESSAGE, payload={"requestedMessage": "BootNotification"},
                       requested_by=requested_by, source=source)


def box_accept(*, box: ChargeBox, requested_by=None, source: str = "",
               states=(RegistrationStatus.PENDING, RegistrationStatus.REJECTED)) -> Command | None:
    """An operator accepts a box in one of ``states`` (chargers.services.box_approve), which is then
    asked to boot again (``box_boot_request``). Accepting an accepted box changes and sends nothing."""
    with transaction.atomic():
        changed = box_approve(box=box, states=states)
        box.registration_status = RegistrationStatus.ACCEPTED
        return box_boot_request(box=box, requested_by=requested_by, source=source) if changed else None




def command_validate(*, box: ChargeBox, action: str, payload: dict) -> None:
    """CommandInvalid unless ``action`` with ``payload`` is a call the box's protocol can send. A box
    that has not yet said which protocol it speaks is held to COMMAND_DEFAULT_PROTOCOL's."""
    edge = command_edge(box.protocol or settings.COMMAND_DEFAULT_PROTOCOL)
    if edge is None:
        raise CommandInvalid(f"the charge box speaks {box.get_protocol_display()}, which has no channel for commands",
                             field="action", code="NotSupported")
    if action not in edge.actions:
        raise CommandInvalid(f"{action!r} is not a call the central system makes to a {box.get_protocol_display()} box",
                             field="action", code="NotSupported")
    if action == GET_DIAGNOSTICS and not payload.get("location"):
        payload = {**payload, "location": _SYSTEM_LOCATION}  # command_issue fills in the system's own
    edge.validate(action, payload)


def _publish(ids: list[int]) -> None:
    # By name: the task's module imports this one.
    current_app.send_task("commands.tasks.deliver_commands", args=[ids])


def _undelivered(ids: list[int]) -> None:
    """Commands whose message may not have reached the broker end as failed, those still queued
    only: a publish that raised may still have been queued, and a worker may have sent it already."""
    outcome = Outcome.error("InternalError",
                            "the command could not be handed to the workers (message broker unavailable)")
    for command_id in ids:
        try:
            command_settle(command_id=command_id, outcome=outcome, states=[CommandState.QUEUED])
        except Exception:
            # The row may be settled while waking its waiter failed (the broker is our Redis too).
            log.exception("command %s: its failure could not be recorded, or its waiter woken", command_id)


dispatcher = Dispatcher(_publish, _undelivered)
atexit.register(dispatcher.flush)
