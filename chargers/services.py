"""Charge-box workflows shared by every protocol edge: boot, heartbeat, status, authorization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chargers.choices import (
    CONNECTED_PROTOCOLS,
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    DataTransferStatus,
    RegistrationStatus,
)
from chargers.models import Alarm, ChargeBox, Connector, IdTag, JournalEntry, Station
from chargers.signals import alarm_cleared, alarm_raised, box_offline, box_online, idtag_unknown
from chargers.presence import NODE_SEPARATOR, processes_alive_now
from core.errors import ChargeBoxNotAccepted, DomainError, UnknownChargeBox

# Connector ids are stored as PostgreSQL integers.
CONNECTOR_ID_MAX = 2**31 - 1


@dataclass(frozen=True)
class IdTagInfo:
    status: str
    expiry: datetime | None = None
    parent_id_tag: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == AuthorizationStatus.ACCEPTED


@dataclass(frozen=True)
class BootResult:
    status: str
    interval: int
    current_time: datetime


def _rows_read(model, where: str, params: list) -> list:
    """``model.objects.filter(...)`` written as SQL (``where`` may end in FOR UPDATE), for the
    boxes and connectors read on every request and batch: building the query through the ORM cost
    three times the query itself (0.35 against 0.1 ms of CPU). Only for models whose fields are
    all plain columns: nothing is converted on the way from the database."""
    fields = model._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(field.column for field in fields)} FROM {model._meta.db_table} WHERE {where}", params
        )
        rows = cursor.fetchall()
    names = [field.attname for field in fields]
    return [model.from_db(connection.alias, names, row) for row in rows]


def boxes_read(where: str, params: list) -> list[ChargeBox]:
    return _rows_read(ChargeBox, where, params)


def box_by_serial(serial: str) -> ChargeBox | None:
    found = boxes_read("serial = %s", [serial])
    return found[0] if found else None


def boxes_by_pk(pks: list[int]) -> dict[int, ChargeBox]:
    return {box.pk: box for box in boxes_read("id = ANY(%s)", [pks])}


def box_get(*, serial: str, require_accepted: bool = True) -> ChargeBox:
    return box_found(box_by_serial(serial), serial=serial, require_accepted=require_accepted)


def box_found(box: ChargeBox | None, *, serial: str, require_accepted: bool = True) -> ChargeBox:
    """``box``, as read for ``serial``, refused when there is none (or it is not accepted)."""
    if box is None:
        raise UnknownChargeBox(f"unknown charge box {serial!r}", field="chargeBoxSerialNumber")
    if require_accepted:
        box_require_accepted(box=box)
    return box


def box_require_accepted(*, box: ChargeBox) -> None:
    """A box that is not accepted may only boot (EVCHONG 2.1, OCPP 1.6 §4.2)."""
    if box.registration_status != RegistrationStatus.ACCEPTED:
        raise ChargeBoxNotAccepted(
            f"charge box {box.serial!r} is {box.registration_status.lower()}, not accepted",
            field="chargeBoxSerialNumber",
        )


def box_register(*, serial: str) -> ChargeBox:
    """An unknown box that made contact, kept Pending until an operator accepts it in the admin."""
    if not 0 < len(serial) <= ChargeBox._meta.get_field("serial").max_length:
        raise UnknownChargeBox(f"{serial!r} cannot be a charge box serial", field="chargeBoxSerialNumber")
    box, _ = ChargeBox.objects.get_or_create(
        serial=serial, defaults={"registration_status": RegistrationStatus.PENDING}
    )
    return box


def box_approve(*, box: ChargeBox, states=(RegistrationStatus.PENDING,)) -> bool:
    """An operator accepts a box in one of ``states``; its next BootNotification is answered
    Accepted. False when the box was in none of them (accepted meanwhile): a conditional UPDATE, so
    two operators approving at once do it once. (commands.services.box_accept also asks it to boot.)"""
    approved = ChargeBox.objects.filter(pk=box.pk, registration_status__in=states).update(
        registration_status=RegistrationStatus.ACCEPTED)
    if approved:
        box.registration_status = RegistrationStatus.ACCEPTED
    return bool(approved)


def box_password_set(*, box: ChargeBox, password: str | None) -> None:
    """The box's credential from now on (DESIGN.md §3: Basic auth with the serial as user name);
    None: the box need not authenticate."""
    box.set_password(password)
    ChargeBox.objects.filter(pk=box.pk).update(password_hash=box.password_hash,
                                               credential_verifier=box.credential_verifier)


def box_touch(*, box: ChargeBox, protocol: str) -> datetime:
    """Any message is a sign of life. One UPDATE, no read, and none at all when ``box`` was seen
    within LAST_SEEN_RESOLUTION over the same protocol: a box sending meter values every second
    would otherwise rewrite its row (and the last_seen index) every second for nothing anyone reads
    that closely; being online is judged on heartbeat intervals of a minute."""
    now = timezone.now()
    if box_touch_due(box=box, protocol=protocol, now=now):
        ChargeBox.objects.filter(pk=box.pk).update(last_seen=now, protocol=protocol)
        box.last_seen, box.protocol = now, protocol
    return now


def box_touch_due(*, box: ChargeBox, protocol: str, now: datetime) -> bool:
    """Whether a message at ``now`` must be written as the box's last sign of life."""
    return (
        box.last_seen is None
        or box.protocol != protocol
        or (now - box.last_seen).total_seconds() >= settings.LAST_SEEN_RESOLUTION
    )


def box_connected(*, box: ChargeBox, protocol: str, node: str) -> str:
    """The box holds a connection to ``node`` (a server process and connection); it replaces any
    other. Returns the node it replaces, "" when the box held no connection."""
    return boxes_connected([box], protocol=protocol, node=node)[box.pk]


def boxes_connected(boxes: list[ChargeBox], *, protocol: str, node: str) -> dict[int, str]:
    """``box_connected`` for many boxes in one statement (a Kotodian reconnect storm brings
    thousands at once): {box pk: the node it replaces}. The old node is read under the rows' locks
    (taken in id order), so that of two connections of one box racing here the second always
    learns of the first."""
    if not boxes:
        return {}
    now = timezone.now()
    table = ChargeBox._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS b SET last_seen = %s, protocol = %s, connected_node = %s"
            f" FROM (SELECT id, connected_node FROM {table} WHERE id = ANY(%s) ORDER BY id FOR UPDATE) AS old"
            " WHERE b.id = old.id RETURNING b.id, old.connected_node",
            [now, protocol, node, sorted({box.pk for box in boxes})])
        replaced = dict(cursor.fetchall())
    for box in boxes:
        box.last_seen, box.protocol, box.connected_node = now, protocol, node
    told = set()
    for box in boxes:
        if not replaced.get(box.pk) and box.pk not in told:
            told.add(box.pk)
            box_online.send(sender=ChargeBox, box=box)
    return {box.pk: replaced.get(box.pk, "") for box in boxes}


def box_disconnected(*, box: ChargeBox, node: str) -> bool:
    """The connection at ``node`` closed. Conditional, so that an old connection closing after a
    newer one replaced it does not mark the box offline."""
    gone = bool(ChargeBox.objects.filter(pk=box.pk, connected_node=node).update(connected_node=""))
    if gone:
        box_offline.send(sender=ChargeBox, box=box)
    return gone


def boxes_of_dead_processes_release() -> int:
    """Connections held by server processes whose lease ran out (chargers.presence) are gone: their
    boxes are no longer sent commands (commands.services.box_command_channel reads connected_node).
    Returns how many boxes were released."""
    alive = processes_alive_now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ChargeBox._meta.db_table} SET connected_node = '' WHERE protocol = ANY(%s)"
            " AND connected_node <> '' AND NOT split_part(connected_node, %s, 1) = ANY(%s)",
            [list(CONNECTED_PROTOCOLS), NODE_SEPARATOR, alive])
        return cursor.rowcount


@dataclass(frozen=True)
class BootReport:
    """What a box says of itself when it boots; an empty field was not said."""

    serial: str
    protocol: str
    vendor: str = ""
    model: str = ""
    charge_point_serial: str = ""
    firmware_version: str = ""
    iccid: str = ""
    imsi: str = ""
    meter_type: str = ""
    meter_serial: str = ""


# The fields of a BootReport kept on the box under the same names.
_BOOT_FIELDS = ("vendor", "model", "charge_point_serial", "firmware_version", "iccid", "imsi", "meter_type",
                "meter_serial")


def box_boot(**report) -> BootResult:
    """One box's boot (``BootReport``'s fields), as ``box_boots`` records it."""
    return box_boots([BootReport(**report)])[0]


def box_boots(reports: list[BootReport]) -> list[BootResult]:
    """Only registered boxes are accepted (EVCHONG 2.1); what a box says of itself is recorded, and a
    box without a station joins the one its charge point serial number names.

    Any number of boots in three statements (the boxes, the stations named, one UPDATE of what
    changed): a reconnect storm brings thousands at once, and one by one each cost a read, a
    station lookup and a save of every field."""
    now = timezone.now()
    boxes = {box.serial: box for box in ChargeBox.objects.filter(serial__in={report.serial for report in reports})}
    named = {report.charge_point_serial for report in reports
             if report.charge_point_serial and report.serial in boxes and boxes[report.serial].station_id is None}
    stations = {station.code: station for station in Station.objects.filter(code__in=named)} if named else {}
    results, booted = [], {}
    for report in reports:
        box = boxes.get(report.serial)
        if box is None:
            results.append(BootResult(RegistrationStatus.REJECTED, settings.HEARTBEAT_INTERVAL, now))
            continue
        for name in _BOOT_FIELDS:
            if value := getattr(report, name):
                setattr(box, name, value)
        box.last_seen = box.last_boot = now
        box.protocol = report.protocol
        if box.station_id is None and report.charge_point_serial in stations:
            box.station = stations[report.charge_point_serial]
        booted[box.pk] = box
        results.append(BootResult(box.registration_status, box.effective_heartbeat_interval, now))
    if booted:
        _boots_write(list(booted.values()), now)
    return results


def _boots_write(boxes: list[ChargeBox], now: datetime) -> None:
    """One UPDATE of what boots change on ``boxes`` (already set on them), from a VALUES list.
    Django's bulk_update wrote the same as a CASE per field and box: building it was most of a
    storm's boot time."""
    table, columns = ChargeBox._meta.db_table, [*_BOOT_FIELDS, "protocol"]
    row = "(" + ", ".join(["%s"] * (len(columns) + 2)) + ")"
    params: list = [now, now]
    for box in boxes:
        params += [box.pk, *(getattr(box, name) for name in columns), box.station_id]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS b SET last_seen = %s, last_boot = %s, "
            + ", ".join(f"{name} = v.{name}" for name in columns)
            # A VALUES column of NULLs only is text to PostgreSQL: the cast makes it the key's type.
            + ", station_id = v.station_id::bigint"
            f" FROM (VALUES {', '.join([row] * len(boxes))}) AS v (id, {', '.join(columns)}, station_id)"
            " WHERE b.id = v.id",
            params,
        )


def idtag_authorize(*, id_tag: str, now: datetime | None = None, box: ChargeBox | None = None) -> IdTagInfo:
    """Status, expiry and parent of a tag; a blocked or expired parent (group) locks its members out.
    ``box``: the box that asks (an Authorize), told to the apps above when the tag is unknown."""
    now = now or timezone.now()
    # As SQL: every session's start and stop asks, and the ORM's query building cost more than the
    # query (a join of the tag with its parent).
    table = IdTag._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.status, t.expiry, p.id_tag, p.status, p.expiry FROM {table} AS t"
            f" LEFT JOIN {table} AS p ON p.id = t.parent_id WHERE t.id_tag = %s",
            [id_tag],
        )
        row = cursor.fetchone()
    if row is None:
        if box is not None:
            idtag_unknown.send(sender=IdTag, box=box, id_tag=id_tag)
        return IdTagInfo(AuthorizationStatus.INVALID)
    status, tag_expiry, parent_id_tag, parent_status, parent_expiry = row
    expiries = [e for e in (tag_expiry, parent_expiry) if e]
    expiry = min(expiries) if expiries else None
    if status == AuthorizationStatus.ACCEPTED and parent_id_tag is not None and parent_status != AuthorizationStatus.ACCEPTED:
        status = parent_status
    if status == AuthorizationStatus.ACCEPTED and expiry is not None and expiry <= now:
        status = AuthorizationStatus.EXPIRED
    return IdTagInfo(status, expiry, parent_id_tag)


def connector_read(*, box: ChargeBox, connector_id: int, lock: bool = False) -> Connector | None:
    """The connector row if it exists, ``lock``: locked (FOR UPDATE) until the transaction ends.

    As SQL: it is read for every session start and remote start. And the ORM's ``first()`` orders
    by the model's ordering, which joins the box, so that FOR UPDATE locked the box's row too:
    a remote start then waited for the OCPP writers' batches that touch the box (last_seen)."""
    found = _rows_read(Connector, f"box_id = %s AND connector_id = %s{' FOR UPDATE' if lock else ''}",
                       [box.pk, connector_id])
    if not found:
        return None
    found[0].box = box  # the caller's copy: no query when the connector's box is asked for
    return found[0]


def connector_get(*, box: ChargeBox, connector_id: int, lock: bool = False) -> Connector:
    """The connector row, created on first mention (boxes report connectors we were not told of)."""
    if not 0 <= connector_id <= CONNECTOR_ID_MAX:
        raise DomainError(f"there is no connector {connector_id}", field="connectorId")
    # The connector almost always exists: one query (locking it at once) in the usual case, where
    # get_or_create and then a locking read were two for every status report.
    found = connector_read(box=box, connector_id=connector_id, lock=lock)
    if found is not None:
        return found
    try:
        connector, _ = Connector.objects.get_or_create(box=box, connector_id=connector_id)
    except IntegrityError:  # created concurrently by another request
        connector = Connector.objects.get(box=box, connector_id=connector_id)
    if lock:
        connector = Connector.objects.select_for_update().get(pk=connector.pk)
    return connector


def active_transaction_id(*, box: ChargeBox, connector_id: int) -> int | None:
    """The session running on a connector, if any. Through the sessions' reverse relation: the
    transactions app depends on this one, not back."""
    return (
        box.transactions.filter(connector__connector_id=connector_id, stopped_at__isnull=True)
        .values_list("id", flat=True)
        .first()
    )


@transaction.atomic
def connector_status_report(
    *,
    box: ChargeBox,
    connector_id: int,
    status: str,
    error_code: str,
    timestamp: datetime | None,
    info: str = "",
    vendor_id: str = "",
    vendor_error_code: str = "",
    raw_status: str = "",
    raw_error_code: str = "",
    transaction_id: int | None = None,
    periodic: bool = False,
) -> Connector:
    """Record a connector's state and raise the alarms EVCHONG 2.7 asks for.

    ``periodic`` reports (EVCHONG transactionId = -1) only update state. Otherwise a fault in a
    session notifies the user and operations, an exception in a session notifies the user, and a
    fault outside any session is e-mailed to operations.
    """
    connector = connector_get(box=box, connector_id=connector_id, lock=True)
    timestamp = timestamp or timezone.now()
    if status_newer(timestamp, connector.status_time):
        connector.status = status
        connector.error_code = error_code
        connector.info = info
        connector.vendor_id = vendor_id
        connector.vendor_error_code = vendor_error_code
        connector.raw_status = raw_status
        connector.raw_error_code = raw_error_code
        connector.status_time = timestamp
        connector.save()

    if status_healthy(status, error_code):
        alarms_clear(box=box, connector_id=connector_id)
        return connector
    if periodic:
        return connector

    if transaction_id is None:
        transaction_id = active_transaction_id(box=box, connector_id=connector_id)
    in_session = transaction_id is not None and transaction_id > 0
    faulted = status == ChargePointStatus.FAULTED
    if not faulted and not in_session:
        return connector  # an exception outside a session concerns nobody yet
    alarm = Alarm.objects.create(
        box=box,
        connector_id=connector_id,
        transaction_id=transaction_id if in_session else None,
        status=status,
        error_code=error_code,
        vendor_error_code=vendor_error_code,
        info=info,
        notify_user=in_session,
        notify_operations=faulted,
        raised=timestamp,
    )
    alarm_raised.send(sender=Alarm, alarm=alarm)
    if faulted:
        # By name: the tasks module imports this one.
        transaction.on_commit(lambda: current_app.send_task("chargers.tasks.alarm_email_operations", args=[alarm.pk]))
    return connector


def status_newer(timestamp: datetime, held: datetime | None) -> bool:
    """Whether a report taken at ``timestamp`` replaces the one a connector holds (taken at
    ``held``). Boxes replay queued notifications after a reconnect: an older report must not hide
    a newer one."""
    return held is None or timestamp >= held


def status_healthy(status: str, error_code: str) -> bool:
    """A report that clears its connector's alarms and raises none (EVCHONG 2.7)."""
    return status != ChargePointStatus.FAULTED and error_code in ("", ChargePointErrorCode.NO_ERROR)


@dataclass
class StatusReport:
    """One status report of a connector: ``connector_status_report``'s arguments."""

    box: ChargeBox
    connector_id: int
    status: str
    error_code: str
    timestamp: datetime | None
    info: str = ""
    vendor_id: str = ""
    vendor_error_code: str = ""
    raw_status: str = ""  # the box's own word, where its protocol's differs from OCPP's


def connector_statuses_report(reports: list[StatusReport]) -> list[StatusReport]:
    """What ``connector_status_report`` does with a healthy report of a connector we know, for
    many reports at once and in three statements: lock the connectors (in one order, by id), write
    each report newer than what its connector holds, clear the connectors' alarms. Those are the
    reports a reconnect storm is made of (every box reports every connector), and one at a time
    they were five statements and a savepoint each.

    Returns the reports it left for ``connector_status_report``: a fault or an error code (alarms
    to raise), a connector not known yet (to create), a second report of the same connector."""
    now = timezone.now()
    batch: dict[tuple[int, int], StatusReport] = {}
    left = []
    for report in reports:
        key = (report.box.pk, report.connector_id)
        if key in batch or not status_healthy(report.status, report.error_code) \
                or not 0 <= report.connector_id <= CONNECTOR_ID_MAX:
            left.append(report)
        else:
            batch[key] = report
    if not batch:
        return left
    table, alarms = Connector._meta.db_table, Alarm._meta.db_table
    boxes, connector_ids = [box for box, _ in batch], [connector for _, connector in batch]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, box_id, connector_id, status_time FROM {table}"
            " WHERE (box_id, connector_id) IN (SELECT * FROM unnest(%s::bigint[], %s::integer[]))"
            " ORDER BY id FOR UPDATE", [boxes, connector_ids])
        known = {(box, connector): (pk, status_time) for pk, box, connector, status_time in cursor.fetchall()}
        left += [report for key, report in batch.items() if key not in known]
        newer = [(known[key][0], report, report.timestamp or now) for key, report in batch.items()
                 if key in known and status_newer(report.timestamp or now, known[key][1])]
        if newer:
            columns = list(zip(*[(pk, r.status, r.error_code, r.info, r.vendor_id, r.vendor_error_code,
                                  r.raw_status, at) for pk, r, at in newer], strict=True))
            cursor.execute(
                f"UPDATE {table} AS c SET status = v.status, error_code = v.error_code, info = v.info,"
                " vendor_id = v.vendor_id, vendor_error_code = v.vendor_error_code, raw_status = v.raw_status,"
                " raw_error_code = '', status_time = v.at, updated = %s"
                " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
                " %s::text[], %s::timestamptz[])"
                " AS v(id, status, error_code, info, vendor_id, vendor_error_code, raw_status, at)"
                " WHERE c.id = v.id", [now, *map(list, columns)])
        held = [key for key in batch if key in known]
        cursor.execute(
            f"UPDATE {alarms} SET cleared = %s WHERE cleared IS NULL AND code = ''"
            " AND (box_id, connector_id) IN (SELECT * FROM unnest(%s::bigint[], %s::integer[]))"
            " RETURNING id, box_id, connector_id",
            [now, [box for box, _ in held], [connector for _, connector in held]])
        cleared = cursor.fetchall()
    _alarms_cleared_tell(cleared, {key: report.box for key, report in batch.items()})
    return left


def connector_statuses_record(reports: list[StatusReport]) -> list[Exception | None]:
    """Many status reports at once, whatever they say: the healthy ones of known connectors in
    ``connector_statuses_report``'s three statements, the rest one by one through
    ``connector_status_report``, each in a savepoint of its own. For each report, in order, None
    or the exception that refused it."""
    failures: dict[int, Exception | None] = {id(report): None for report in reports}
    for report in connector_statuses_report(reports):
        try:
            with transaction.atomic():
                connector_status_report(**vars(report))
        except Exception as exc:  # rendered by the edge, as the one-by-one path's would be
            failures[id(report)] = exc
    return [failures[id(report)] for report in reports]


def connector_statuses_from(items: list, read, refusals: tuple[type[Exception], ...]) -> list[Exception | None]:
    """An edge's batch of status reports: each ``(box, request)`` read into a StatusReport by
    ``read`` (the edge's, which raises one of ``refusals`` for a request it cannot read), then all
    recorded by ``connector_statuses_record``. For each item, in order, None or why it was refused."""
    failures: list[Exception | None] = [None] * len(items)
    reports, positions = [], []
    for n, (box, request) in enumerate(items):
        try:
            reports.append(read(box, request))
            positions.append(n)
        except refusals as exc:
            failures[n] = exc
    for n, failure in zip(positions, connector_statuses_record(reports), strict=True):
        failures[n] = failure
    return failures


def alarms_clear(*, box: ChargeBox, connector_id: int) -> None:
    """A healthy report clears the connector's open alarms that status reports raised (EVCHONG 2.7);
    a box's own alarms (chargers.alarms, with a code) end as the box says."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Alarm._meta.db_table} SET cleared = %s WHERE box_id = %s AND connector_id = %s"
            " AND cleared IS NULL AND code = '' RETURNING id, box_id, connector_id",
            [timezone.now(), box.pk, connector_id])
        cleared = cursor.fetchall()
    _alarms_cleared_tell(cleared, {(box.pk, connector_id): box})


def _alarms_cleared_tell(cleared: list[tuple[int, int, int]], boxes: dict[tuple[int, int], ChargeBox]) -> None:
    """alarm_cleared for each connector that had open alarms; nothing (and no work) for the rest,
    which is almost every healthy report."""
    by_connector: dict[tuple[int, int], list[int]] = {}
    for alarm_id, box_id, connector_id in cleared:
        by_connector.setdefault((box_id, connector_id), []).append(alarm_id)
    for (box_id, connector_id), alarm_ids in by_connector.items():
        alarm_cleared.send(sender=Alarm, box=boxes[(box_id, connector_id)], connector_id=connector_id,
                           alarm_ids=sorted(alarm_ids))


def data_transfer_receive(*, box: ChargeBox, vendor_id: str, message_id: str = "", data: str = "") -> str:
    """A vendor-specific message from a box (OCPP 1.6 §4.3). No vendor extension is known yet, so
    every vendor is unknown; the message itself is in the box's journal."""
    return DataTransferStatus.UNKNOWN_VENDOR_ID


def journal_record(*, box: ChargeBox, direction: str, protocol: str, action: str, payload: str) -> None:
    JournalEntry.objects.create(box=box, direction=direction, protocol=protocol, action=action, payload=payload)
