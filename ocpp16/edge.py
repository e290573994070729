"""The OCPP 1.6J edge's part in the inbound pipeline (inbound.edge): a CALL validated against the
official schemas, the handler table (ocpp16.handlers), and answers rendered as CALLRESULT or
CALLERROR frames. The consumer (ocpp16.consumer) parses frames and submits them here."""

from __future__ import annotations

import functools
import logging

from django.conf import settings

from chargers.choices import Protocol
from core.errors import DomainError
from core.storable import holds_nul, storable
from inbound.edge import Edge, Message
from inbound.writers import Writers
from ocpp16.errors import ErrorCode, OcppError, error_for
from ocpp16.handlers import HANDLERS
from ocpp16.rpc import error_frame, result_frame
from ocpp16.schemas import ACTIONS, validate_request

log = logging.getLogger(__name__)


class OcppEdge(Edge):
    protocol = Protocol.OCPP16
    handlers = HANDLERS

    def prepare(self, message: Message) -> None:
        """``request`` is the CALL's payload, ``action`` its action (ocpp16.consumer parsed them)."""
        if "\x00" in message.action:  # kept as its JSON escape: PostgreSQL text cannot hold a NUL
            message.action = storable(message.action)
            raise OcppError(ErrorCode.FORMATION_VIOLATION, "the action holds a NUL character")
        # A NUL in a string is valid JSON that PostgreSQL cannot store: refused here, so that it
        # costs this frame alone and not a failed batch redone frame by frame.
        if "\\u0000" in message.raw and holds_nul(message.request):
            raise OcppError(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "a string holds a NUL character")
        message.handler = self.handlers.get(message.action)
        if message.handler is None:
            if message.action in ACTIONS:
                raise OcppError(ErrorCode.NOT_SUPPORTED, f"{message.action} is not a call a charge point makes")
            raise OcppError(ErrorCode.NOT_IMPLEMENTED, f"unknown action {message.action!r}")
        validate_request(message.action, message.request)

    def render(self, message: Message) -> str:
        if message.failure is None:
            return result_frame(message.reference, message.result)
        failure = message.failure
        if not isinstance(failure, (OcppError, DomainError)):
            log.error("OCPP %s from %s failed", message.action, message.box.serial if message.box else "?",
                      exc_info=(type(failure), failure, failure.__traceback__))
        return error_frame(error_for(failure), message.reference)

    def journal_text(self, message: Message, reply: str | None = None) -> str:
        return reply if reply is not None else storable(message.raw)

    def internal_error(self, message: Message) -> str:
        failure = OcppError(ErrorCode.INTERNAL_ERROR, "the central system could not process the message")
        return error_frame(failure, message.reference)

    def name(self, message: Message) -> str:
        return f"OCPP {message.action or 'frame'} from {message.box.serial if message.box else '?'}"


EDGE = OcppEdge()


@functools.cache
def writers() -> Writers:
    """The process's OCPP writer threads, made on first use."""
    return Writers("ocpp-writer", settings.OCPP_WRITERS, settings.OCPP_BATCH)
