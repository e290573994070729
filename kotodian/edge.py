"""The Kotodian edge's part in the inbound pipeline (inbound.edge): the bridge (kotodian.bridge)
decodes each APDU and submits its inner message; here the handler is picked from the table
(kotodian.handlers) and the answer rendered as the reply APDU's bytes, or as a MessageError (0xFF).

How a failure is answered (DESIGN 3, kotodian-apdu 1.2):
- a message the table has no handler for: MessageError EC_NotSupported (as an unknown messageId);
- a field the edge cannot read (``FieldInvalid``): the Conf with a non-zero status where the Conf
  has a status, else MessageError EC_TypeViolation;
- a refusal of the domain (unknown box, box not accepted, ...): the Conf with a non-zero status
  (and the reason, where the Conf has one), else MessageError EC_GenericError with the reason, as
  Kotodian's own gateway answers a request it failed to handle;
- anything else: MessageError EC_InternalError.
Requests without a reply (telemetry, kotodian-apdu 1.3) or sent with no_need_reply are handled and
journaled, and answered with nothing."""

from __future__ import annotations

import functools
import logging

import orjson
from django.conf import settings
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message as ProtobufMessage

from chargers.choices import Protocol
from core.errors import DomainError
from inbound.edge import Edge, Message
from inbound.writers import Writers
from kotodian import codec
from kotodian.errors import CodecError, UnknownMessage
from kotodian import alarms, notifications, offline_orders, tariff_pulls  # noqa: F401 (they fill HANDLERS)
from kotodian.handlers import HANDLERS, FieldInvalid
from kotodian.messages import REPLY_CLASSES
from kotodian.notifications import SENT_BY_THE_SYSTEM
from kotodian.proto import charger_pb2 as pb
from kotodian.replies import ConfThenRequests

log = logging.getLogger(__name__)


def refusal_conf(request: codec.Apdu, failure: DomainError) -> ProtobufMessage | None:
    """The request's Conf saying no (a non-zero status, the reason where it has a field for one),
    or None when the Conf has no status to say it with."""
    reply_class = REPLY_CLASSES.get(request.reply_id)
    if reply_class is None or "status" not in reply_class.DESCRIPTOR.fields_by_name:
        return None
    conf = reply_class(status=1)
    if "reason" in reply_class.DESCRIPTOR.fields_by_name:
        conf.reason = failure.message
    # What the box matches the refusal to (an offline order's record, a connector), where both have it.
    request_fields = request.message.DESCRIPTOR.fields_by_name
    for name in ("recordId", "connectorId"):
        field = reply_class.DESCRIPTOR.fields_by_name.get(name)
        if field is not None and name in request_fields and field.type == request_fields[name].type:
            setattr(conf, name, getattr(request.message, name))
    return conf


def apdu_json(apdu: codec.Apdu) -> str:
    """An APDU as the journal shows it: the envelope's numbers and the message as JSON."""
    return orjson.dumps({
        "message": apdu.name, "sequenceId": apdu.sequence_id, "timestamp": apdu.timestamp,
        **({"noNeedReply": True} if apdu.no_need_reply else {}), **({"sync": True} if apdu.sync else {}),
        "payload": MessageToDict(apdu.message, preserving_proto_field_name=True),
    }).decode()


def bytes_json(data: bytes) -> str:
    """Whatever bytes arrived or left, readable: decoded when they are an APDU, else in hex with
    what is wrong with them."""
    try:
        return apdu_json(codec.decode(data))
    except CodecError as exc:
        return orjson.dumps({"undecodable": exc.reason, "sequenceId": exc.sequence_id,
                             "messageId": exc.message_id, "hex": bytes(data[:4096]).hex()}).decode()


class KotodianEdge(Edge):
    protocol = Protocol.KOTODIAN
    handlers = HANDLERS

    def prepare(self, message: Message) -> None:
        """``request`` is the decoded inner message, ``reference`` its Apdu (kotodian.bridge)."""
        message.handler = self.handlers.get(message.action)
        if message.handler is None:
            taken = "sent by the central system, never taken from a box" \
                if message.action in SENT_BY_THE_SYSTEM else "not a message the central system takes"
            raise UnknownMessage(f"{message.reference.name} is {taken}",
                                 sequence_id=message.reference.sequence_id, message_id=message.reference.message_id)

    def render(self, message: Message) -> bytes | None:
        request = message.reference
        if isinstance(request, CodecError):  # what arrived could not be decoded (kotodian.bridge)
            return codec.error_reply(request)
        if not request.expects_reply:
            return None
        failure = message.failure
        if failure is None:
            result = message.result
            return codec.encode_reply(request, result.conf if isinstance(result, ConfThenRequests) else result)
        if isinstance(failure, CodecError) and failure.error_code is not None:
            return codec.message_error(request, failure.error_code, failure.reason)
        if isinstance(failure, DomainError):
            conf = refusal_conf(request, failure)
            if conf is not None:
                return codec.encode_reply(request, conf)
            code = pb.EC_TypeViolation if isinstance(failure, FieldInvalid) else pb.EC_GenericError
            return codec.message_error(request, code, failure.message)
        log.error("Kotodian %s from %s failed", message.action, message.box.serial if message.box else "?",
                  exc_info=(type(failure), failure, failure.__traceback__))
        return codec.message_error(request, pb.EC_InternalError, "the central system could not process the message")

    def journal_text(self, message: Message, reply: bytes | None = None) -> str:
        if reply is not None:
            return bytes_json(reply)
        if isinstance(message.reference, codec.Apdu) and message.request is not None:
            return apdu_json(message.reference)
        return bytes_json(message.raw)

    def internal_error(self, message: Message) -> bytes | None:
        request = message.reference
        if isinstance(request, CodecError):
            return codec.error_reply(request)
        if not isinstance(request, codec.Apdu) or not request.expects_reply:
            return None
        return codec.message_error(request, pb.EC_InternalError, "the central system could not process the message")

    def name(self, message: Message) -> str:
        return f"Kotodian {message.action or 'message'} from {message.box.serial if message.box else '?'}"


EDGE = KotodianEdge()


@functools.cache
def writers() -> Writers:
    """The process's Kotodian writer threads, made on first use."""
    return Writers("kotodian-writer", settings.KOTODIAN_WRITERS, settings.KOTODIAN_BATCH)
