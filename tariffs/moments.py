"""Dates and times as operators type them: a date alone is local midnight (TIME_ZONE, which the
periods are in too), a date-time without a zone is local time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.dateparse import parse_date, parse_datetime

from core.errors import DomainError


def local_moment(text: str, *, field: str, after_day: bool = False) -> datetime:
    """``text`` as an aware datetime; a date is its local midnight, or with ``after_day`` the
    midnight that ends it (for a range that includes its last day)."""
    try:
        day = parse_date(text)
        moment = datetime.combine(day + timedelta(days=int(after_day)), time()) if day else parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise DomainError(f"{text!r} is not an ISO 8601 date or date-time", field=field)
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
