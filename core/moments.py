"""Date-times as OCPP and the other JSON protocols write them (RFC 3339)."""

from __future__ import annotations

from datetime import UTC, datetime

from core.errors import DomainError


def moment_parse(value: str, field: str = "") -> datetime:
    """An RFC 3339 date-time, aware. A schema's date-time pattern lets through dates that do not
    exist (month 19, hour 25): those are refused here, naming ``field``. RFC 3339 §5.6 allows a
    lower-case "t" and "z", which fromisoformat does not take: upper-casing changes nothing else.
    A time without an offset is taken as UTC, as OCPP means it."""
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError:
        raise DomainError(f"{field or 'a date-time'} {value!r} is not a valid date-time", field=field or "") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def moment_format(moment: datetime) -> str:
    """UTC, to the millisecond, with a Z (OCPP-J 1.6 §3.1.3 recommends it)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
