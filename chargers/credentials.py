"""Charge-box credentials (HTTP Basic: OCPP security profile 1, the EVCHONG forward API).

The password is stored as Django stores users' (PBKDF2, about 0.3 s of CPU per check by design).
Boxes authenticate on every connection (OCPP) or request (EVCHONG), so a check that succeeded is
remembered on the box's row as a verifier: an HMAC, keyed with SECRET_KEY, of the stored hash and
the password. A box presenting the same password again costs one HMAC, in every server process
and after a restart. That matters most after a power cut, when every box reconnects at once to
servers that remember nothing: 10,000 boxes at 0.3 s each are 50 minutes of one core. Measured
with 400 boxes: all in after 71-106 s with hundreds of handshakes dropped when no success was
remembered, 4-6 s with none dropped when the rows remembered them (docs/performance.md).

The verifier is worth nothing without SECRET_KEY, which does not live in the database; whoever
holds both the database and SECRET_KEY can test guesses at HMAC speed instead of PBKDF2 speed, so
the password is then only as strong as itself (OCPP's security profiles ask for 16 characters or
more, random). A deployment must set its own SECRET_KEY (README).

A password that does not match the verifier gets the full PBKDF2 check (the verifier may have been
made with a key since rotated away). A password found wrong is remembered too, in the process's
memory: a box left with a stale password retries every few seconds, each full check took 0.3 s of
CPU, and a wrong password stays wrong for as long as the stored hash stays the same.
"""

from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "evchong.chargers.credentials"


def password_hash(raw: str | None) -> str:
    """The stored form of a box's password; empty (no authentication) for none."""
    return make_password(raw) if raw else ""


def verifier(hashed: str, raw: str, secret: str | None = None) -> str:
    return salted_hmac(_SALT, f"{hashed}\0{raw}", secret=secret, algorithm="sha256").hexdigest()


def verifier_key(remembered: str, hashed: str, raw: str) -> str | None:
    """The key that made ``remembered`` from this hash and password: SECRET_KEY, one of its
    fallbacks (a key being rotated out), or None when none did."""
    if remembered:
        for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
            if constant_time_compare(remembered, verifier(hashed, raw, secret)):
                return secret
    return None


# (stored hash, HMAC of a password found wrong for it under a key of this process's own, so that
# not even a memory dump holds a plain digest of someone's near-miss); bounded, not expiring.
_refused: set[tuple[str, bytes]] = set()
_REFUSED_KEY = os.urandom(32)
REFUSED_MAX = 10_000


def password_matches(hashed: str, raw: str) -> bool:
    """The full check against the stored hash, once per wrong password."""
    if not hashed:
        return False
    refusal = (hashed, hmac.digest(_REFUSED_KEY, raw.encode(), "sha256"))
    if refusal in _refused:
        return False
    if check_password(raw, hashed):
        return True
    if len(_refused) >= REFUSED_MAX:
        _refused.clear()
    _refused.add(refusal)
    return False
