"""OCPP-J 1.6 error codes (§4.2.3), the exception behind every CALLERROR we send, and the one
mapping of domain refusals to them."""

from __future__ import annotations

from enum import StrEnum

from django.db import DataError

from core.errors import ChargeBoxNotAccepted, DomainError, UnknownChargeBox


class ErrorCode(StrEnum):
    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    # sic: OCPP-J 1.6 spells it with one "r", and boxes compare the string.
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"


class OcppError(Exception):
    """A message we cannot handle, answered with a CALLERROR carrying ``code``."""

    def __init__(self, code: ErrorCode, description: str, *, unique_id: str | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.unique_id = unique_id


def error_for(exc: Exception) -> OcppError:
    """The CALLERROR for whatever a message failed with: a domain refusal in OCPP's terms, and any
    other failure (a bug) as an internal error."""
    if isinstance(exc, OcppError):
        return exc
    if isinstance(exc, DataError):
        # A number the schema allows (any integer) but the database cannot hold.
        return OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "a value is out of the range this system stores")
    if not isinstance(exc, DomainError):
        return OcppError(ErrorCode.INTERNAL_ERROR, "the central system failed to process the message")
    if isinstance(exc, (UnknownChargeBox, ChargeBoxNotAccepted)):
        return OcppError(ErrorCode.SECURITY_ERROR, exc.message)
    # A refusal that names a field is a value the domain cannot take; anything else is generic.
    code = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION if exc.field else ErrorCode.GENERIC_ERROR
    return OcppError(code, exc.message)
