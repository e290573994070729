"""Charge boxes' HTTP Basic (OCPP security profile 1 at the WebSocket upgrade, the forward API) behind
the brute-force counters (security.bruteforce), cheaply: a box presents the same credentials on every
request, so once they succeeded from an address this process skips the Redis look-up for them for a
while. The memo only spares the counters; the password itself is still checked every time."""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import time

from security import bruteforce

_KEY = os.urandom(32)  # the memo holds HMACs under a key of this process, never a password
_recent: dict[bytes, float] = {}
RECENT_SECONDS = 60
RECENT_MAX = 100_000


def basic_credentials(authorization: str | bytes) -> tuple[str, str] | None:
    """(username, password) of an HTTP Basic header; None when there is none or it is malformed."""
    if isinstance(authorization, str):
        authorization = authorization.encode("latin-1", "replace")
    scheme, _, encoded = authorization.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        username, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return username, password


def _memo_key(source: str, credentials: tuple[str, str]) -> bytes:
    return hmac.digest(_KEY, f"{source}\0{credentials[0]}\0{credentials[1]}".encode("utf-8", "replace"), "sha256")


def _recently_fine(key: bytes) -> bool:
    return _recent.get(key, 0.0) > time.monotonic()


async def box_refused_for(source: str, credentials: tuple[str, str] | None) -> int:
    """Seconds ``source`` must wait before trying these credentials' username again (0: may try)."""
    if credentials is None or _recently_fine(_memo_key(source, credentials)):
        return 0
    return await bruteforce.refused_for_async(bruteforce.BOX, source, credentials[0])


async def box_outcome(source: str, credentials: tuple[str, str] | None, accepted: bool) -> None:
    """Count a failed check (credentials that were wrong); clear the count after a success."""
    if credentials is None:
        return
    key = _memo_key(source, credentials)
    if not accepted:
        _recent.pop(key, None)
        await bruteforce.failure_async(bruteforce.BOX, source, credentials[0])
    elif not _recently_fine(key):
        if len(_recent) >= RECENT_MAX:
            _recent.clear()
        _recent[key] = time.monotonic() + RECENT_SECONDS
        await bruteforce.success_async(bruteforce.BOX, source, credentials[0])


def box_refused_for_sync(source: str, credentials: tuple[str, str] | None) -> int:
    if credentials is None or _recently_fine(_memo_key(source, credentials)):
        return 0
    return bruteforce.refused_for(bruteforce.BOX, source, credentials[0])


def box_outcome_sync(source: str, credentials: tuple[str, str] | None, accepted: bool) -> None:
    if credentials is None:
        return
    key = _memo_key(source, credentials)
    if not accepted:
        _recent.pop(key, None)
        bruteforce.failure(bruteforce.BOX, source, credentials[0])
    elif not _recently_fine(key):
        _recent[key] = time.monotonic() + RECENT_SECONDS
        bruteforce.success(bruteforce.BOX, source, credentials[0])
