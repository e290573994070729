"""Where deliveries may go."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings


def endpoint_url_problem(url: str) -> str | None:
    """Why deliveries may not go to ``url``, or None. HTTPS only: the body names drivers' id tags;
    plain HTTP only to the hosts WEBHOOK_INSECURE_HOSTS names (127.0.0.1 in tests)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a URL"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname and parts.hostname in settings.WEBHOOK_INSECURE_HOSTS:
        return None
    return "an endpoint must be an https:// URL"
