import base64
import binascii
import time

from django.conf import settings
from rest_framework.authentication import TokenAuthentication

from chargers.models import ChargeBox
from evchong_api.errors import BoxAuthenticationFailed


def check_box_credentials(request, box: ChargeBox) -> None:
    """HTTP Basic with username = chargeBoxSerialNumber, for boxes that have a password (the same
    credential as OCPP security profile 1)."""
    if not box.requires_auth:
        return
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise BoxAuthenticationFailed("this charge box must authenticate with HTTP Basic")
    try:
        username, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise BoxAuthenticationFailed("malformed Basic credentials") from None
    if username != box.serial or not box.check_password(password):
        raise BoxAuthenticationFailed("wrong username or password for this charge box")


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, remembering each token's user for API_TOKEN_CACHE_SECONDS in this
    process. A reverse call looked its token up, then the user's groups and permissions, on every
    request: three to five queries before any work, a thousand times over when a backend sends a
    burst. The user object keeps Django's permission cache, so the permission checks of later calls
    cost nothing either. A revoked token or withdrawn permission takes effect within that time."""

    MAX_ENTRIES = 1000  # tokens of a deployment are few; the bound only guards memory

    _remembered: dict[str, tuple[float, tuple]] = {}

    def authenticate_credentials(self, key):
        ttl = settings.API_TOKEN_CACHE_SECONDS
        now = time.monotonic()
        entry = self._remembered.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        found = super().authenticate_credentials(key)  # raises for unknown tokens and inactive users
        if ttl > 0:
            if len(self._remembered) >= self.MAX_ENTRIES:
                self._remembered.clear()
            self._remembered[key] = (now + ttl, found)
        return found
