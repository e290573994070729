"""Making, finding and revoking API tokens (security.models.ApiToken)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from security.models import ALL_SCOPES, ApiToken

_SALT = "evchong.security.apitoken"
COMMAND_TOKEN_NAME = "manage.py apitoken"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _derived(seed: str, secret: str | None = None) -> str:
    # 40 hex characters, as long as DRF's keys were: alphanumeric, so clients that checked that still do.
    return salted_hmac(_SALT, seed, secret=secret, algorithm="sha256").hexdigest()[:40]


def token_create(*, user, name: str, scopes: list[str], expires: datetime | None = None,
                 seed: str = "") -> tuple[ApiToken, str]:
    """A new token for ``user``: the row, and the token itself, which is shown this once."""
    unknown = set(scopes) - set(ALL_SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes: {sorted(unknown)}")
    token = _derived(seed) if seed else secrets.token_hex(20)
    row = ApiToken.objects.create(user=user, name=name, digest=token_digest(token), prefix=token[:8],
                                  scopes=list(scopes), expires=expires, seed=seed)
    return row, token


def command_token(user) -> str:
    """The token `manage.py apitoken` prints for ``user``: the same one on every run while it is
    usable and SECRET_KEY is the same (DESIGN 3: the command is idempotent); otherwise a new one."""
    for row in ApiToken.objects.filter(user=user, name=COMMAND_TOKEN_NAME).exclude(seed=""):
        if not row.usable():
            continue
        for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
            token = _derived(row.seed, secret)
            if constant_time_compare(token_digest(token), row.digest):
                return token
    return token_create(user=user, name=COMMAND_TOKEN_NAME, scopes=ALL_SCOPES, seed=secrets.token_hex(32))[1]


def token_find(token: str) -> ApiToken | None:
    """The usable token row for ``token`` with its user, or None (unknown, revoked or expired)."""
    row = ApiToken.objects.select_related("user").filter(digest=token_digest(token)).first()
    return row if row is not None and row.usable() else None


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=timezone.now())
