"""Field types of EVCHONG 4: epoch-millisecond times and the spec's enumerations."""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# 2001-09-09 .. 2286-11-20 in epoch ms: a seconds value or garbage falls outside.
_MIN_MS, _MAX_MS = 10**12, 10**13 - 1


def epoch_ms_moment(data) -> datetime | None:
    """The moment of an epoch-milliseconds integer in range, or None for anything else."""
    if type(data) is not int or not _MIN_MS <= data <= _MAX_MS:
        return None
    return datetime.fromtimestamp(data / 1000, tz=dt_timezone.utc)


def to_epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def parse_iso(text: str) -> datetime | None:
    """An ISO 8601 date-time ("T" or a space between date and time), or None. parse_datetime
    raises for well-formed dates that do not exist (February 30): a 500 until caught here."""
    try:
        return parse_datetime(text.replace(" ", "T", 1)) if text else None
    except ValueError:
        return None


# What EpochMillisField takes, as OpenAPI says it: an integer in range, or a string of an ISO 8601
# date-time (or of the integer). A pattern cannot rule out February 30: that is still a 400.
EPOCH_MILLIS_SCHEMA = {"oneOf": [
    {"type": "integer", "minimum": _MIN_MS, "maximum": _MAX_MS, "description": "epoch milliseconds"},
    {"type": "string", "pattern": r"^(1\d{12}|\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d"
                                  r"(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?)$",
     "description": "ISO 8601 date-time, or epoch milliseconds as a string"},
]}


@extend_schema_field(EPOCH_MILLIS_SCHEMA)
class EpochMillisField(serializers.Field):
    """dateTime in EVCHONG is epoch milliseconds; ISO 8601 strings are taken too."""

    default_error_messages = {
        "invalid": "Expected epoch milliseconds (e.g. 1425289031076) or an ISO 8601 date-time.",
        "range": "Epoch milliseconds out of range (seconds sent instead of milliseconds?).",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, str):
            text = data.strip()
            if text.lstrip("-").isdigit():
                if len(text) > 20:  # out of range anyway, and int() refuses 4300 digits or more (a 500)
                    self.fail("range")
                data = int(text)
            else:
                parsed = parse_iso(text)
                if parsed is None:
                    self.fail("invalid")
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=dt_timezone.utc)
                return parsed
        if isinstance(data, float) and data.is_integer():
            data = int(data)
        if not isinstance(data, int):
            self.fail("invalid")
        moment = epoch_ms_moment(int(data))  # int(): a subclass of int (an IntEnum) as its plain value
        if moment is None:
            self.fail("range")
        return moment

    def to_representation(self, value):
        return to_epoch_ms(value)


class EnumField(serializers.ChoiceField):
    """An enumeration value, spelled exactly as the spec spells it."""

    def __init__(self, choices, **kwargs):
        super().__init__(choices=choices, **kwargs)
        self.error_messages["invalid_choice"] = f'"{{input}}" is not one of: {", ".join(choices)}.'


class StrictIntegerField(serializers.IntegerField):
    """An integer; a number in a string is taken (gateways quote numbers), a fraction or bool is not."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or (isinstance(data, float) and not data.is_integer()):
            self.fail("invalid")
        if isinstance(data, str) and not data.strip().lstrip("-").isdigit():
            self.fail("invalid")
        return super().to_internal_value(data)
