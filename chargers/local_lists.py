"""Local authorization lists (OCPP 1.6 §5.15 SendLocalList, §5.10 GetLocalListVersion): what
each box holds, mirrored from the SendLocalList calls it accepted, and the version it last reported."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from chargers.models import ChargeBox, LocalAuthList, LocalAuthListEntry
from chargers.services import IdTagInfo

FULL, DIFFERENTIAL = "Full", "Differential"


@dataclass(frozen=True)
class LocalListUpdate:
    """One entry of a SendLocalList: ``info`` None removes the tag (a Differential without idTagInfo)."""

    id_tag: str
    info: IdTagInfo | None


def _auth_list_ensure(box: ChargeBox) -> None:
    # Created on first use, without a race between two first uses (INSERT ... ON CONFLICT DO NOTHING).
    LocalAuthList.objects.bulk_create([LocalAuthList(box=box)], ignore_conflicts=True)


def _auth_list_locked(box: ChargeBox) -> LocalAuthList:
    # Locked, so that two updates of one box's list apply one after the other.
    _auth_list_ensure(box)
    return LocalAuthList.objects.select_for_update().get(box=box)


@transaction.atomic
def local_list_apply(
    *, box: ChargeBox, version: int, update_type: str, updates: list[LocalListUpdate]
) -> LocalAuthList:
    """A SendLocalList the box accepted (OCPP 1.6 §5.15). Full: the list becomes exactly the entries
    that carry idTagInfo. Differential: entries with idTagInfo are added or replaced, entries without
    are removed, the rest stays. Either way the list's version becomes ``version``. Applying the same
    update again changes nothing."""
    auth_list = _auth_list_locked(box)
    latest = {update.id_tag: update.info for update in updates}  # a tag named twice: the last one counts
    kept = {tag: info for tag, info in latest.items() if info is not None}
    if update_type == FULL:
        auth_list.entries.all().delete()
    else:
        auth_list.entries.filter(id_tag__in=[tag for tag, info in latest.items() if info is None]).delete()
    LocalAuthListEntry.objects.bulk_create(
        [LocalAuthListEntry(auth_list=auth_list, id_tag=tag, status=info.status, expiry=info.expiry,
                            parent_id_tag=info.parent_id_tag or "")
         for tag, info in kept.items()],
        update_conflicts=True, unique_fields=["auth_list", "id_tag"],
        update_fields=["status", "expiry", "parent_id_tag"],
    )
    auth_list.version, auth_list.updated = version, timezone.now()
    auth_list.save(update_fields=["version", "updated"])
    return auth_list


def local_list_version_record(*, box: ChargeBox, version: int) -> None:
    """The box's answer to GetLocalListVersion: 0 no list, -1 no support (OCPP 1.6 §5.10). Kept
    beside the version we sent, not over it, so that a box that lost its list shows up."""
    _auth_list_ensure(box)
    LocalAuthList.objects.filter(box=box).update(reported_version=version, reported_at=timezone.now())
