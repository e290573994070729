"""The one project exception type. Each edge maps it once to its own error form
(HTTP 400/403 JSON, an OCPP CALLERROR, an APDU MessageError)."""


class DomainError(Exception):
    """A request the domain refuses. ``field`` names the input at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class UnknownChargeBox(DomainError):
    pass


class ChargeBoxNotAccepted(DomainError):
    pass
