"""`Authorization: Token <token>` for every HTTP API (the default of REST_FRAMEWORK and the reverse
API's lean path): the token's digest looked up (security.tokens), its scope checked against what the
request does, its client rate-limited, and failed guesses counted per source (security.bruteforce)."""

from __future__ import annotations

import math
import threading
import time

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from security import bruteforce
from security.buckets import Buckets
from security.clients import address_of_request
from security.models import Scope
from security.tokens import token_digest, token_find

REVERSE_PREFIX = "/evchong-api/reverse/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def scope_needed(path: str, method: str) -> str:
    """The scope a request needs: the reverse API's, reading, or changing something (commands)."""
    if path.startswith(REVERSE_PREFIX):
        return Scope.REVERSE.value
    return Scope.READ.value if method in SAFE_METHODS else Scope.OPERATIONS.value


class TooManyRequests(exceptions.Throttled):
    """429 with Retry-After in whole seconds (DRF's exception handler sets the header from ``wait``)."""

    def __init__(self, wait: float, why: str):
        super().__init__(wait=math.ceil(wait), detail=f"{why}; try again in {math.ceil(wait)} s")


class ApiTokenAuthentication(BaseAuthentication):
    """Each token's row and user are remembered for API_TOKEN_CACHE_SECONDS in this process: a reverse
    call looked its token up, then the user's groups and permissions, on every request, three to five
    queries before any work, a thousand times over when a backend sends a burst; the user object keeps
    Django's permission cache, so later permission checks cost nothing either. A revoked token or a
    withdrawn permission takes effect within that time; an expiry at once."""

    keyword = "Token"
    MAX_ENTRIES = 1000  # tokens of a deployment are few; the bound only guards memory

    _remembered: dict[str, tuple[float, tuple]] = {}
    _lock = threading.Lock()
    _buckets: Buckets | None = None

    def authenticate_header(self, request):
        return self.keyword

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        parts = (header.encode("latin-1", "replace") if isinstance(header, str) else header).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: give `Token <token>`.")
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token header: not text.") from None
        user, token = self.authenticate_credentials(key, address_of_request(request))
        needed = scope_needed(request.path if hasattr(request, "path") else "", request.method or "")
        if needed not in token.scopes:
            raise exceptions.PermissionDenied(f"this token lacks the scope {needed!r}")
        wait = self.buckets().take(str(token.pk))
        if wait:
            raise TooManyRequests(wait, f"more than {settings.API_RATE_PER_SECOND:g} requests a second for this token")
        return user, token

    @classmethod
    def buckets(cls) -> Buckets:
        if cls._buckets is None or (cls._buckets.rate, cls._buckets.burst) != (settings.API_RATE_PER_SECOND,
                                                                               settings.API_RATE_BURST):
            cls._buckets = Buckets(settings.API_RATE_PER_SECOND, settings.API_RATE_BURST)
        return cls._buckets

    def authenticate_credentials(self, key: str, source: str) -> tuple:
        digest = token_digest(key)
        now = time.monotonic()
        entry = self._remembered.get(digest)
        if entry is not None and entry[0] > now and entry[1][1].usable(timezone.now()):
            return entry[1]
        # Only guesses are counted, so a token is never checked against the counters once remembered.
        refused = bruteforce.refused_for(bruteforce.TOKEN, source, "")
        if refused:
            raise TooManyRequests(refused, "too many wrong tokens from this address")
        token = token_find(key)
        if token is None or not token.user.is_active:
            bruteforce.failure(bruteforce.TOKEN, source, "")
            raise exceptions.AuthenticationFailed("Invalid token: unknown, revoked or expired.")
        found = (token.user, token)
        ttl = settings.API_TOKEN_CACHE_SECONDS
        if ttl > 0:
            with self._lock:
                if len(self._remembered) >= self.MAX_ENTRIES:
                    self._remembered.clear()
                self._remembered[digest] = (now + ttl, found)
        return found

