"""The address a request came from, the same way for Django requests and raw ASGI scopes. Behind a
proxy (deploy/nginx.conf) every connection comes from the proxy: CLIENT_ADDRESS_HEADER names the
header it appends the client's address to, and the last address in it is the one the proxy saw
(earlier ones are whatever the client claimed)."""

from __future__ import annotations

from django.conf import settings


def _last(value: str) -> str:
    return value.rsplit(",", 1)[-1].strip()


def address_of_scope(scope: dict) -> str:
    header = settings.CLIENT_ADDRESS_HEADER
    if header:
        wanted = header.lower().encode()
        for name, value in scope.get("headers", ()):
            if name == wanted:
                return _last(value.decode("latin-1"))
    client = scope.get("client")
    return client[0] if client else ""


def address_of_request(request) -> str:
    header = settings.CLIENT_ADDRESS_HEADER
    if header:
        value = request.META.get("HTTP_" + header.upper().replace("-", "_"))
        if value:
            return _last(value)
    return request.META.get("REMOTE_ADDR", "")
