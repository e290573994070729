"""A box's configuration inventory (OCPP 1.6 §9): the keys it reported in GetConfiguration answers
and those it accepted in ChangeConfiguration, each with when it was last seen. The keys that govern
what the system expects of the box are applied to its row: HeartbeatInterval (how long a silent box
stays online, and what its next boot is told) and MeterValueSampleInterval."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from chargers.models import ChargeBox, ConfigurationKey

log = logging.getLogger(__name__)

# Configuration keys mirrored on the box's row: key -> ChargeBox field (seconds, OCPP 1.6 §9.1).
ROW_FIELDS = {"heartbeatinterval": "heartbeat_interval", "metervaluesampleinterval": "meter_value_sample_interval"}
KEY_MAX = ConfigurationKey._meta.get_field("key").max_length
VALUE_MAX = ConfigurationKey._meta.get_field("value").max_length


@dataclass(frozen=True)
class KeyValue:
    """One key as a box reports it (GetConfiguration's KeyValue): ``value`` None when it gave none."""

    key: str
    value: str | None
    readonly: bool = False


def configuration_report(*, box: ChargeBox, keys: list[KeyValue], unknown: list[str] = ()) -> None:
    """A GetConfiguration answer: the keys reported are kept as the box said them; keys it calls
    unknown are dropped from its inventory (it no longer has them). Keys it did not mention stay as
    last seen: a box may answer a full read with fewer keys than it holds."""
    now = timezone.now()
    _keys_write(box=box, rows=[(k.key, k.value or "", k.readonly, False) for k in keys], now=now, readonly_known=True)
    if unknown:
        ConfigurationKey.objects.filter(box=box, key__in=list(unknown)).delete()
    _row_apply(box=box, values={k.key: k.value for k in keys})


def configuration_change(*, box: ChargeBox, key: str, value: str, reboot_required: bool = False) -> None:
    """A ChangeConfiguration the box accepted (or will apply after a reboot)."""
    _keys_write(box=box, rows=[(key, value, False, reboot_required)], now=timezone.now(), readonly_known=False)
    _row_apply(box=box, values={key: value})


def _keys_write(*, box: ChargeBox, rows: list[tuple[str, str, bool, bool]], now, readonly_known: bool) -> None:
    """Upsert (key, value, readonly, reboot_required) rows in one statement; a key already kept keeps
    its readonly flag unless ``readonly_known`` (a ChangeConfiguration does not say). A key
    longer than OCPP allows is not kept (logged): the box broke the schema, the rest still counts."""
    kept = []
    for key, value, readonly, reboot in rows:
        if not key or len(key) > KEY_MAX:
            log.warning("box %s reported a configuration key OCPP 1.6 does not allow: %r", box.serial, key[:100])
            continue
        kept.append((key, value[:VALUE_MAX], readonly, reboot))
    if not kept:
        return
    keys, values, readonlies, reboots = (list(column) for column in zip(*kept, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ConfigurationKey._meta.db_table} AS c (box_id, key, value, readonly, reboot_required, last_seen)"
            " SELECT %s, k, v, r, b, %s"
            " FROM unnest(%s::text[], %s::text[], %s::boolean[], %s::boolean[]) AS u(k, v, r, b)"
            " ON CONFLICT (box_id, key) DO UPDATE SET value = EXCLUDED.value, reboot_required = EXCLUDED.reboot_required,"
            "   last_seen = EXCLUDED.last_seen,"
            "   readonly = CASE WHEN %s THEN EXCLUDED.readonly ELSE c.readonly END",
            [box.pk, now, keys, values, readonlies, reboots, readonly_known],
        )


def _row_apply(*, box: ChargeBox, values: dict[str, str | None]) -> None:
    changes = {}
    for key, value in values.items():
        field = ROW_FIELDS.get(key.lower())
        if field is None or value is None:
            continue
        try:
            seconds = int(value.strip())
        except ValueError:
            log.warning("box %s reported %s=%r, which is no number of seconds", box.serial, key, value)
            continue
        if seconds < 0:
            continue
        # HeartbeatInterval 0 would make every box look offline at once; as the row's field, 0 means
        # "the system default" (empty), which is what the box will be told at its next boot.
        changes[field] = seconds or None
    if changes:
        ChargeBox.objects.filter(pk=box.pk).update(**changes)
        for field, seconds in changes.items():
            setattr(box, field, seconds)
