"""The credentials that the FTP server checks, carried in the URLs that boxes are given.

A credential is a random username (``fw-`` and 16 hex digits for a firmware image, ``dg-`` for a
diagnostics upload) and a password derived from it: an HMAC of the username keyed with SECRET_KEY.
Nothing secret is stored, so a copy of the database opens no file; the URL can be shown again at
any time (the admin shows it); and a check costs one HMAC, not a slow hash (the password is 128
random-looking bits: nothing to guess). Rotating SECRET_KEY: URLs already handed out keep working
while the old key is in SECRET_KEY_FALLBACKS (docs/adr/0015).
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "evchong.firmware.ftp"
IMAGE_PREFIX = "fw-"
DIAGNOSTICS_PREFIX = "dg-"


def new_image_username() -> str:
    return IMAGE_PREFIX + secrets.token_hex(8)


def new_diagnostics_username() -> str:
    return DIAGNOSTICS_PREFIX + secrets.token_hex(8)


def ftp_password(username: str, secret: str | None = None) -> str:
    return salted_hmac(_SALT, username, secret=secret, algorithm="sha256").hexdigest()[:32]


def ftp_password_valid(username: str, password: str) -> bool:
    return any(constant_time_compare(password, ftp_password(username, key))
               for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS])


def ftp_url(username: str, path: str = "") -> str:
    """ftp://USER:PASSWORD@HOST:PORT/PATH. The same address serves FTPS (explicit, AUTH TLS): a box
    that wants TLS asks for it on the connection (RFC 4217)."""
    host = settings.FTP_PUBLIC_HOST
    if ":" in host:  # an IPv6 address (RFC 3986 §3.2.2)
        host = f"[{host}]"
    return f"ftp://{username}:{ftp_password(username)}@{host}:{settings.FTP_PORT}/{quote(path)}"
