"""Reservations (OCPP 1.6 §5.13 ReserveNow, §5.1 CancelReservation): requested through the command
path, settled by the box's answer, used by the session that starts on them, swept when they expire,
and honoured by the remote-start rule (commands.services)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from chargers.choices import ChargePointStatus, ReservationState
from chargers.models import ChargeBox, Connector, IdTag, Reservation
from chargers.services import CONNECTOR_ID_MAX
from core.errors import DomainError

# Reservation ids are the primary key, a PostgreSQL integer like OCPP's reservationId.
RESERVATION_ID_MAX = 2**31 - 1
# Each explicitly chosen id that the sequence runs into costs one retry; far more than ever happens.
_ALLOCATION_ATTEMPTS = 1000


def reservation_request(
    *,
    box: ChargeBox,
    connector_id: int,
    id_tag: str,
    expiry_date: datetime,
    parent_id_tag: str = "",
    reservation_id: int | None = None,
) -> Reservation:
    """A reservation about to be sent to the box, in 'requested'. Its id is the reservationId the box
    gets: ``reservation_id`` when given and free, else the next number of the table's sequence
    (docs/adr/0007). A number is free when no reservation of any box ever had it."""
    if not 0 <= connector_id <= CONNECTOR_ID_MAX:
        raise DomainError(f"there is no connector {connector_id}", field="connectorId")
    fields = {"box": box, "connector_id": connector_id, "id_tag": id_tag, "parent_id_tag": parent_id_tag,
              "expiry_date": expiry_date}
    if reservation_id is not None and 0 < reservation_id <= RESERVATION_ID_MAX:
        try:
            with transaction.atomic():  # a savepoint: the primary key decides "used" without a race
                return Reservation.objects.create(id=reservation_id, **fields)
        except IntegrityError:
            pass
    for _ in range(_ALLOCATION_ATTEMPTS):
        try:
            with transaction.atomic():
                return Reservation.objects.create(**fields)
        except IntegrityError:
            continue  # the sequence reached a number a caller chose; the next try takes the next one
    raise DomainError("no free reservation id", field="reservationId")


def reservation_answered(*, box: ChargeBox, reservation_id: int, status: str) -> bool:
    """The box's answer to ReserveNow: Accepted holds the connector; Faulted, Occupied, Rejected and
    Unavailable do not (OCPP 1.6 §5.13). Settles a requested reservation only, so a repeat is void."""
    state = ReservationState.ACCEPTED if status == "Accepted" else ReservationState.REJECTED
    return bool(
        Reservation.objects.filter(pk=reservation_id, box=box, state=ReservationState.REQUESTED).update(
            state=state, box_status=status
        )
    )


def reservation_cancel(*, box: ChargeBox, reservation_id: int) -> bool:
    """The box accepted a CancelReservation (OCPP 1.6 §5.1)."""
    return bool(
        Reservation.objects.filter(
            pk=reservation_id, box=box, state__in=[ReservationState.REQUESTED, ReservationState.ACCEPTED]
        ).update(state=ReservationState.CANCELLED, ended_at=timezone.now())
    )


def reservation_use(*, box: ChargeBox, reservation_id: int, transaction_id: int) -> bool:
    """A session started on the reservation: the box names it in StartTransaction (OCPP 1.6 §5.13).
    The box's word wins over our clock: a start queued while the box was offline may reach us after
    the sweep called the reservation expired, and one whose ReserveNow answer was lost is still
    'requested'."""
    return bool(
        Reservation.objects.filter(
            pk=reservation_id, box=box,
            state__in=[ReservationState.REQUESTED, ReservationState.ACCEPTED, ReservationState.EXPIRED],
        ).update(state=ReservationState.USED, transaction_id=transaction_id, ended_at=timezone.now())
    )


def reservations_expire(*, now: datetime | None = None) -> int:
    """Open reservations whose expiryDate has passed end as expired; the box ends them by itself
    at that moment (OCPP 1.6 §5.13). Only bookkeeping: the remote-start rule already looks at the
    expiry date, not at this state."""
    now = now or timezone.now()
    return Reservation.objects.filter(
        state__in=[ReservationState.REQUESTED, ReservationState.ACCEPTED], expiry_date__lte=now
    ).update(state=ReservationState.EXPIRED, ended_at=now)


def reservations_held_by_others(*, box: ChargeBox, connector_id: int, id_tag: str, now: datetime) -> tuple[str, list]:
    """SQL (``FROM ... WHERE ...``) and its parameters for the reservations that may keep ``id_tag``
    off ``connector_id``: accepted, not expired, for this connector or any (0), not made for the tag
    itself. ``reservation_blocking`` decides among them; a caller may first ask whether there are any
    in a statement of its own (the remote start does, with the connector's other checks)."""
    return (
        f"FROM {Reservation._meta.db_table} WHERE box_id = %s AND state = %s AND expiry_date > %s"
        " AND connector_id IN (%s, 0) AND id_tag <> %s",
        [box.pk, ReservationState.ACCEPTED, now, connector_id, id_tag],
    )


def reservation_blocking(
    *, box: ChargeBox, connector_id: int, id_tag: str, now: datetime | None = None
) -> Reservation | None:
    """The reservation that keeps ``id_tag`` off ``connector_id`` now, if any (OCPP 1.6 §5.13).

    Only accepted reservations that have not expired count, and not those ``id_tag`` holds: its own,
    and those made for its parent (group) tag. A reservation of this very connector blocks it. One
    for connector 0 (any connector) blocks it only when starting here would leave fewer Available
    connectors than there are such reservations: the box must keep one free for each of them.
    """
    now = now or timezone.now()
    # As SQL: every remote start asks, and building the query cost more than running it.
    held, params = reservations_held_by_others(box=box, connector_id=connector_id, id_tag=id_tag, now=now)
    held_by_others = list(Reservation.objects.raw(f"SELECT * {held} ORDER BY expiry_date", params))
    if not held_by_others:
        return None  # the usual case, and one query: the tag's parent matters only beside a reservation
    parent = IdTag.objects.filter(id_tag=id_tag, parent__isnull=False).values_list("parent__id_tag", flat=True).first()
    if parent:
        held_by_others = [reservation for reservation in held_by_others if reservation.parent_id_tag != parent]
    for reservation in held_by_others:
        if reservation.connector_id == connector_id:
            return reservation
    if held_by_others:  # every one of them is for "any connector"
        free_elsewhere = (
            Connector.objects.filter(box=box, connector_id__gt=0, status=ChargePointStatus.AVAILABLE)
            .exclude(connector_id=connector_id)
            .count()
        )
        if free_elsewhere < len(held_by_others):
            return held_by_others[0]
    return None


def reservation_ended_by_box(*, box: ChargeBox, reservation_id: int, expired: bool) -> bool:
    """The box ended a reservation of its own accord (Kotodian's ReservationStatusUpdate): it
    expired there, or the box removed it (an operator at the box, a fault). Ends an open one only,
    so a repeat, or the report of one ended here already, changes nothing."""
    state = ReservationState.EXPIRED if expired else ReservationState.CANCELLED
    return bool(
        Reservation.objects.filter(
            pk=reservation_id, box=box, state__in=[ReservationState.REQUESTED, ReservationState.ACCEPTED]
        ).update(state=state, ended_at=timezone.now())
    )
