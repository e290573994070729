"""OCPP-J 1.6 error codes (§4.2.3), the exception behind every CALLERROR we send, and the one
mapping of domain refusals to them."""

from __future__ import annotations

from enum import StrEnum

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


class InvalidCall(DomainError):
    """A call we were asked to send to a box that OCPP 1.6 does not allow: an action the central
    system cannot initiate, or a payload that fails the action's schema."""

    def __init__(self, message: str, *, field: str, code: ErrorCode = ErrorCode.FORMATION_VIOLATION):
        super().__init__(message, field=field)
        self.code = code


def error_for(exc: DomainError) -> OcppError:
    if isinstance(exc, (UnknownChargeBox, ChargeBoxNotAccepted)):
        return OcppError(ErrorCode.SECURITY_ERROR, exc.message)
    # A refusal that names a field is a value the domain cannot take; anything else is generic.
    code = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION if exc.field else ErrorCode.GENERIC_ERROR
    return OcppError(code, exc.message)
