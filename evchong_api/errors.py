"""Every failure of the forward API as JSON that names the field and the problem (never a 500
for what a box sent)."""

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from evchong.errors import ChargeBoxNotAccepted, DomainError, UnknownChargeBox
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


def exception_handler(exc, context):
    if isinstance(exc, exceptions.ValidationError):
        return Response(_body("invalid request", _flatten(exc.detail)), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, EnvelopeError):
        return Response(_body("invalid request", {"data": [str(exc.detail)]}), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.AuthenticationFailed):
        return Response(
            _body("authentication failed", {"Authorization": [str(exc.detail)]}),
            status=status.HTTP_401_UNAUTHORIZED,
            headers={"WWW-Authenticate": 'Basic realm="evchong"'},
        )
    if isinstance(exc, (UnknownChargeBox, ChargeBoxNotAccepted)):
        return Response(_body("charge box refused", {exc.field: [exc.message]}), status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, DomainError):
        return Response(
            _body("request refused", {exc.field or "data": [exc.message]}), status=status.HTTP_409_CONFLICT
        )
    if isinstance(exc, exceptions.APIException):
        return Response(_body("request refused", {"request": [str(exc.detail)]}), status=exc.status_code)
    return None
