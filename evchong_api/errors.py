"""Every failure of the forward API as JSON that names the field and the problem (never a 500
for what a box sent)."""

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from core.errors import ChargeBoxNotAccepted, DomainError, UnknownChargeBox
from evchong_api.parsing import EnvelopeError


class BoxAuthenticationFailed(exceptions.AuthenticationFailed):
    pass


def _flatten(detail, prefix=""):
    """DRF's nested error detail -> {"values[0].measurand": ["..."]}."""
    if isinstance(detail, dict):
        out = {}
        for key, value in detail.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:  # a problem of the object itself
                name = prefix or "data"
            elif isinstance(key, int):
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
        return out
    if isinstance(detail, list) and detail and not all(isinstance(d, str) for d in detail):
        out = {}
        for index, value in enumerate(detail):
            if value:
                out.update(_flatten(value, f"{prefix}[{index}]"))
        return out
    return {prefix or "data": [str(d) for d in (detail if isinstance(detail, list) else [detail])]}


def _body(error: str, fields: dict) -> dict:
    field, problems = next(iter(fields.items()))
    return {"error": error, "field": field, "problem": problems[0], "fields": fields}


def error_answer(exc) -> tuple[int, dict, dict] | None:
    """(HTTP status, body, headers) for what went wrong, or None for a bug (a 500). The one place
    that says how each failure looks: the DRF views and the lean path (evchong_api.fastpath) both
    answer through it."""
    if isinstance(exc, exceptions.ValidationError):
        return status.HTTP_400_BAD_REQUEST, _body("invalid request", _flatten(exc.detail)), {}
    if isinstance(exc, EnvelopeError):
        return status.HTTP_400_BAD_REQUEST, _body("invalid request", {"data": [str(exc.detail)]}), {}
    if isinstance(exc, exceptions.AuthenticationFailed):
        return (
            status.HTTP_401_UNAUTHORIZED,
            _body("authentication failed", {"Authorization": [str(exc.detail)]}),
            {"WWW-Authenticate": 'Basic realm="evchong"'},
        )
    if isinstance(exc, (UnknownChargeBox, ChargeBoxNotAccepted)):
        return status.HTTP_403_FORBIDDEN, _body("charge box refused", {exc.field: [exc.message]}), {}
    if isinstance(exc, DomainError):
        return status.HTTP_409_CONFLICT, _body("request refused", {exc.field or "data": [exc.message]}), {}
    if isinstance(exc, exceptions.Throttled):
        return (status.HTTP_429_TOO_MANY_REQUESTS, _body("too many requests", {"Authorization": [str(exc.detail)]}),
                {"Retry-After": str(exc.wait or 1)})
    if isinstance(exc, exceptions.APIException):
        return exc.status_code, _body("request refused", {"request": [str(exc.detail)]}), {}
    return None


def drf_exception_handler(answer_for):
    """A DRF exception handler that answers as ``answer_for(exc)`` says (None: a bug, a 500)."""

    def handle(exc, context):
        answer = answer_for(exc)
        if answer is None:
            return None
        code, body, headers = answer
        return Response(body, status=code, headers=headers or None)

    return handle


exception_handler = drf_exception_handler(error_answer)
