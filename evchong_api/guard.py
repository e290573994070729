"""What the forward API asks of a client before its request goes to the writers, on both entrances
(the lean path, evchong_api.fastpath, and the DRF views): not guessing a box's password
(security.boxguard) and not sending faster than FORWARD_RATE_PER_SECOND (per Basic username and
address, or per address for boxes without one; security.buckets, in the process)."""

from __future__ import annotations

import math

from django.conf import settings
from rest_framework import exceptions

from evchong_api.errors import error_answer
from inbound.edge import Message
from security.boxguard import basic_credentials, box_outcome, box_outcome_sync, box_refused_for, box_refused_for_sync
from security.buckets import Buckets

_buckets: Buckets | None = None


def _rate_refusal(source: str, credentials) -> tuple | None:
    global _buckets
    if _buckets is None or (_buckets.rate, _buckets.burst) != (settings.FORWARD_RATE_PER_SECOND,
                                                               settings.FORWARD_RATE_BURST):
        _buckets = Buckets(settings.FORWARD_RATE_PER_SECOND, settings.FORWARD_RATE_BURST)
    # Per username and address: a guesser naming the box cannot use up the box's own allowance.
    wait = _buckets.take(f"box:{credentials[0]}@{source}" if credentials else f"address:{source}")
    if not wait:
        return None
    return error_answer(exceptions.Throttled(wait=math.ceil(wait), detail=(
        f"more than {settings.FORWARD_RATE_PER_SECOND:g} requests a second from this charge box; "
        f"not processed, send it again in {math.ceil(wait)} s")))


def _lockout(wait: int) -> tuple:
    return error_answer(exceptions.Throttled(wait=wait, detail=(
        f"too many failed logins from this address for this charge box; try again in {wait} s")))


def _verified(message: Message) -> bool:
    # The pipeline sets the box only once its credentials passed; a request refused before that (a
    # malformed body) says nothing about the password, and must not clear the failures counted.
    return message.box is not None and message.box.requires_auth


async def forward_refusal(source: str, authorization: str) -> tuple | None:
    """The answer that refuses this request before any work (HTTP 429), or None."""
    credentials = basic_credentials(authorization)
    wait = await box_refused_for(source, credentials)
    return _lockout(wait) if wait else _rate_refusal(source, credentials)


async def forward_counted(source: str, authorization: str, message: Message) -> None:
    """Counts a wrong password (the answer was 401), clears the count after a verified one."""
    if message.reply and message.reply[0] == 401:
        await box_outcome(source, basic_credentials(authorization), accepted=False)
    elif _verified(message):
        await box_outcome(source, basic_credentials(authorization), accepted=True)


def forward_refusal_sync(source: str, authorization: str) -> tuple | None:
    credentials = basic_credentials(authorization)
    wait = box_refused_for_sync(source, credentials)
    return _lockout(wait) if wait else _rate_refusal(source, credentials)


def forward_counted_sync(source: str, authorization: str, message: Message) -> None:
    if message.reply and message.reply[0] == 401:
        box_outcome_sync(source, basic_credentials(authorization), accepted=False)
    elif _verified(message):
        box_outcome_sync(source, basic_credentials(authorization), accepted=True)
