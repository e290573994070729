"""A tariff as a Kotodian box is told it (SetTariffReq, kotodian-apdu 2.10), and the pushes that keep
a box's tariff current: at its boot, and whenever the tariff that applies to it may have changed
(tariffs.signals.tariff_changed). Each push is an ordinary SetTariff command (docs/adr/0020):
a row, delivered by the worker, settled by the box's Conf.

The units and the rendering (0.1 fen per kWh, minutes of the local day, a period across midnight as
two segments) are kotodian.price_schemes', which also answers the box's own tariff pulls."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chargers.choices import Protocol
from chargers.models import ChargeBox
from commands.edges import CommandInvalid
from commands.services import command_issue
from kotodian.price_schemes import CURRENCY, set_tariff_req
from kotodian.proto import charger_pb2 as pb
from tariffs.models import Tariff
from tariffs.services import tariff_for

log = logging.getLogger(__name__)

SET_TARIFF = "SetTariff"
TARIFF_PUSH = "tariff-push"  # the commands' source


def tariff_request(tariff: Tariff, *, test: bool = False) -> pb.SetTariffReq:
    """The one rendering of a tariff for a box (kotodian.price_schemes), marked as a test or not."""
    request = set_tariff_req(tariff)
    request.test = test
    return request


def tariff_of_box(box_pk: int, code: str | None) -> Tariff:
    """The tariff a SetTariff names, else the one that applies to the box now."""
    if code:
        found = Tariff.objects.filter(code=code).prefetch_related("periods").first()
        if found is None:
            raise CommandInvalid(f"there is no tariff {code!r}", field="payload", code="PropertyConstraintViolation")
    else:
        station_id = ChargeBox.objects.filter(pk=box_pk).values_list("station_id", flat=True).first()
        found = tariff_for(station_id=station_id, at=timezone.now())
        if found is None:
            raise CommandInvalid("no tariff applies to this charge box", field="payload",
                                 code="PropertyConstraintViolation")
    if found.currency != CURRENCY:  # Kotodian boxes bill in fen
        raise CommandInvalid(f"tariff {found.code!r} is in {found.currency}; a Kotodian box is told prices in CNY",
                             field="payload", code="PropertyConstraintViolation")
    return found


def tariff_check(payload: dict) -> None:
    """A tariff a SetTariff names must exist (the rest of its payload: kotodian.calls)."""
    if isinstance(payload, dict) and isinstance(payload.get("tariff"), str):
        tariff_of_box(0, payload["tariff"])


def set_tariff_request(box_pk: int, payload: dict) -> pb.SetTariffReq:
    """At delivery: the prices the box is sent are those of the moment it is sent."""
    return tariff_request(tariff_of_box(box_pk, payload.get("tariff")), test=bool(payload.get("test")))


def tariffs_push(boxes) -> None:
    """Issue to each of ``boxes`` a SetTariff of the tariff that applies to it (nothing where none
    does), the tariff looked up once per station, all the commands in the caller's transaction
    (one Celery message for the lot, commands.dispatch)."""
    now, applies = timezone.now(), {}
    for box in boxes:
        if box.station_id not in applies:
            applies[box.station_id] = tariff_for(station_id=box.station_id, at=now) is not None
        if applies[box.station_id]:
            command_issue(box=box, action=SET_TARIFF, payload={}, source=TARIFF_PUSH)


def tariff_push_after_boots(boxes: list[ChargeBox]) -> None:
    """After the commit of the boxes' boots: the tariff of each, in a transaction of their own,
    whatever happens to it not touching the boots. The boxes read again in one query and the
    tariff that applies looked up once per station: a reconnect storm boots thousands at once."""
    box_pks = sorted({box.pk for box in boxes})
    if not box_pks:
        return

    def push():
        try:
            with transaction.atomic():
                tariffs_push(ChargeBox.objects.filter(pk__in=box_pks).order_by("pk"))
        except Exception:
            log.exception("the tariff of Kotodian boxes %s could not be pushed after their boot", box_pks[:20])

    transaction.on_commit(push)


def boxes_of_changed_tariff(*, station_ids: set[int], default: bool):
    """The connected Kotodian boxes whose tariff may have changed: those of ``station_ids``, and
    when the default is involved, those at a station without a tariff of its own (or none)."""
    affected = Q(station_id__in=station_ids)
    if default:
        with_own = Tariff.stations.through.objects.values("station_id")
        affected |= Q(station__isnull=True) | ~Q(station_id__in=with_own)
    return ChargeBox.objects.filter(affected, protocol=Protocol.KOTODIAN).exclude(connected_node="")


def tariff_changed_push(sender, *, station_ids: set[int], default: bool, **_sent_with) -> None:
    """A tariff was created, replaced or reassigned: each affected box is sent what now applies,
    all the commands in one transaction (one Celery message for the lot, commands.dispatch), the
    tariff that applies looked up once per station."""
    try:
        with transaction.atomic():
            tariffs_push(boxes_of_changed_tariff(station_ids=station_ids, default=default))
    except Exception:
        # The tariff is saved; the boxes keep the one they had until their next boot.
        log.exception("a changed tariff could not be pushed to Kotodian boxes (stations %s, default %s)",
                      sorted(station_ids), default)
