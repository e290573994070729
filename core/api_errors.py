"""The APIs' answer when a service they need is away: HTTP 503 in JSON with Retry-After, not a 500
with a traceback (the caller can do nothing about it but come back). Everything else is DRF's."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from psycopg_pool import PoolTimeout
from redis.exceptions import RedisError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)

# A lost or refused connection; not a statement PostgreSQL refused (DataError, IntegrityError).
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout, RedisError)
RETRY_AFTER_SECONDS = 5


def exception_handler(exc, context):
    if isinstance(exc, UNAVAILABLE):
        log.warning("answered 503: %s", exc)
        return Response({"error": "service unavailable", "detail": "the database or Redis cannot be reached"},
                        status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return drf_exception_handler(exc, context)


# Paths whose callers are programs: an unknown endpoint there is answered in JSON, as the rest of
# the API answers, not with the HTML page a person gets.
API_PREFIXES = ("/api/", "/evchong-api/")


def not_found(request, exception=None):
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith(API_PREFIXES):
        problem = f"no endpoint at {request.path}"
        return JsonResponse({"detail": problem, "error": "not found", "field": "path", "problem": problem,
                             "fields": {"path": [problem]}}, status=404)
    return page_not_found(request, exception)


def server_error(request):
    from django.http import JsonResponse
    from django.views.defaults import server_error as html_server_error

    if request.path.startswith(API_PREFIXES):
        return JsonResponse({"error": "internal error", "detail": "the failure is in the server's log"}, status=500)
    return html_server_error(request)
