"""The EVCHONG forward API's part in the inbound pipeline (inbound.edge): the request envelope as
boxes send it (evchong_api.parsing), the spec's fields (evchong_api.serializers), the handler
table (evchong_api.handlers), and answers or failures rendered as (HTTP status, JSON, headers).
Both entrances use it: the ASGI lean path (evchong_api.fastpath) and the DRF views of the URL conf
(evchong_api.views), which answer the bodies the lean path leaves to Django."""

from __future__ import annotations

import functools
import logging

import orjson
from django.conf import settings

from chargers.choices import Protocol
from evchong_api.auth import check_box_credentials
from evchong_api.errors import error_answer
from evchong_api.handlers import METHODS
from evchong_api.parsing import EnvelopeError, flatten, parse_body
from evchong_api.serializers import validated
from inbound.edge import Edge, Message
from inbound.writers import Writers

PREFIX = "/evchong-api/cperent/v1/"
INTERNAL_ERROR = (500, {"error": "internal server error"}, {})

logger = logging.getLogger("django.request")  # where Django reports the 500s of its own path


class Credentials:
    """The one header check_box_credentials reads, for callers that have no Django request."""

    def __init__(self, authorization: str):
        self.META = {"HTTP_AUTHORIZATION": authorization} if authorization else {}


class EvchongEdge(Edge):
    protocol = Protocol.EVCHONG
    handlers = {name: method.handler for name, method in METHODS.items()}

    def prepare(self, message: Message) -> None:
        """Parse and validate the body (``raw``: bytes, a document already parsed, or the
        EnvelopeError it was found to be); the box is named in it."""
        if isinstance(message.raw, EnvelopeError):
            raise message.raw
        if not isinstance(message.raw, dict):
            message.raw = parse_body(message.raw)
        method = METHODS[message.action]
        message.handler = method.handler
        message.request = validated(method.Input, flatten(message.raw, method.envelope))
        message.serial = message.request["chargeBoxSerialNumber"]

    def check_credentials(self, box, message: Message) -> None:
        check_box_credentials(Credentials(message.credentials), box)

    def render(self, message: Message) -> tuple[int, dict, dict]:
        if message.failure is None:
            return 200, message.result, {}
        found = error_answer(message.failure)
        if found is None:
            failure = message.failure
            logger.error("Internal Server Error: %s%s", PREFIX, message.action,
                         exc_info=(type(failure), failure, failure.__traceback__))
            return INTERNAL_ERROR
        return found

    def journal_text(self, message: Message, reply: tuple | None = None) -> str:
        return orjson.dumps(reply[1] if reply is not None else message.raw).decode()

    def internal_error(self, message: Message) -> tuple[int, dict, dict]:
        return INTERNAL_ERROR

    def name(self, message: Message) -> str:
        return f"EVCHONG {message.action}"


EDGE = EvchongEdge()


@functools.cache
def writers() -> Writers:
    """The process's forward-API writer threads, made on first use."""
    return Writers("evchong-writer", settings.EVCHONG_WRITERS, settings.EVCHONG_BATCH)
