"""The APDU envelope (kotodian-apdu 1.1): bytes to an ``Apdu`` and back.

Every Kotodian message is a protobuf APDU whose ``payload`` holds the serialized inner message, and
whose ``messageId`` says which message that is. ``decode`` parses both layers and raises only the
exceptions of ``kotodian.errors``; the ``encode_*`` functions and ``message_error`` build the bytes
of a request, of the reply to a request, and of the MessageError (0xFF) that refuses one."""

from __future__ import annotations

import time
from dataclasses import dataclass

from google.protobuf.message import DecodeError, Message

from kotodian.errors import CodecError, MalformedApdu, MalformedPayload, UnknownMessage
from kotodian.messages import REPLY_CLASSES, REPLY_IDS, REQUEST_CLASSES, action_name, message_class, message_name
from kotodian.proto import charger_pb2 as pb


@dataclass(frozen=True)
class Apdu:
    """One decoded APDU: the envelope's fields and the inner message, already parsed."""

    message_id: int
    sequence_id: int
    message: Message
    timestamp: int = 0
    no_need_reply: bool = False
    sync: bool = False

    @property
    def name(self) -> str:
        return message_name(self.message_id)

    @property
    def action(self) -> str:
        return action_name(self.message_id)

    @property
    def is_request(self) -> bool:
        return self.message_id in REQUEST_CLASSES

    @property
    def reply_id(self) -> int | None:
        """The id that answers this request; None for replies and for requests without a reply."""
        return REPLY_IDS.get(self.message_id)

    @property
    def expects_reply(self) -> bool:
        # kotodian-apdu 8: every request with a reply id is answered unless the sender said not to.
        return self.reply_id is not None and not self.no_need_reply


def decode(data: bytes) -> Apdu:
    """Parses one APDU and its payload. Raises ``MalformedApdu``, ``UnknownMessage`` or
    ``MalformedPayload`` (all ``CodecError``) for bad input, and nothing else."""
    data = bytes(data)
    if not data:
        # An empty message is a valid, empty protobuf, but it names no message and no sender's
        # sequence: there is nothing to answer (DESIGN 3: journaled and dropped).
        raise MalformedApdu("empty APDU")
    envelope = pb.APDU()
    try:
        envelope.ParseFromString(data)
    except DecodeError as exc:
        sequence_id, message_id = _readable_ids(data)
        raise MalformedApdu(f"not an APDU: {exc}", sequence_id=sequence_id, message_id=message_id) from exc
    ids = {"sequence_id": envelope.sequenceId, "message_id": envelope.messageId, "sync": envelope.sync}
    cls = message_class(envelope.messageId)
    if cls is None:
        raise UnknownMessage(f"messageId {message_name(envelope.messageId)} is not supported", **ids)
    message = cls()
    try:
        message.ParseFromString(envelope.payload)
    except DecodeError as exc:
        raise MalformedPayload(f"payload is not a {cls.DESCRIPTOR.name}: {exc}", **ids) from exc
    return Apdu(
        message_id=envelope.messageId, sequence_id=envelope.sequenceId, message=message,
        timestamp=envelope.timestamp, no_need_reply=envelope.no_need_reply, sync=envelope.sync,
    )


def encode_request(message_id: int, message: Message, sequence_id: int, *, timestamp: int | None = None,
                   no_need_reply: bool = False, sync: bool = False) -> bytes:
    """The bytes of a request. ``sequence_id`` must differ from the sender's other open requests:
    the reply carries it back (kotodian-apdu 1.1)."""
    _check_class(message, REQUEST_CLASSES.get(message_id), message_id)
    return _envelope(message_id, message, sequence_id, timestamp, no_need_reply=no_need_reply, sync=sync)


def encode_reply(request: Apdu, message: Message, *, timestamp: int | None = None) -> bytes:
    """The bytes of the answer to ``request``: its reply id from the table (never request + 0x80
    by arithmetic), its sequenceId, and its ``sync`` flag, as Kotodian's gateway does (kotodian-apdu 1.2)."""
    reply_id = REPLY_IDS.get(request.message_id)
    if reply_id is None:
        raise ValueError(f"{request.name} has no reply (kotodian-apdu 1.3)")
    _check_class(message, REPLY_CLASSES.get(reply_id), reply_id)
    return _envelope(reply_id, message, request.sequence_id, timestamp, sync=request.sync)


def message_error(request: Apdu | CodecError, code: int, description: str, *,
                  timestamp: int | None = None) -> bytes:
    """The MessageError (0xFF) that refuses ``request``, a decoded APDU or the ``CodecError`` that
    decoding it raised, with the request's sequenceId (kotodian-apdu 1.2)."""
    if request.sequence_id is None:
        raise ValueError("the request's sequenceId could not be read: there is nobody to answer")
    if code not in pb.ErrorCode.values():
        raise ValueError(f"{code} is not an ErrorCode (kotodian-apdu 1.2)")
    error = pb.MessageError(error=code, Description=description)
    return _envelope(pb.ID_MessageError, error, request.sequence_id, timestamp, sync=request.sync)


def error_reply(error: CodecError, *, timestamp: int | None = None) -> bytes | None:
    """The answer an edge sends for what ``decode`` raised (DESIGN 3): EC_NotSupported for an unknown
    messageId, EC_ProtocolError for a payload that is not its message, nothing for bytes that are not
    an APDU at all."""
    if error.error_code is None or error.sequence_id is None:
        return None
    return message_error(error, error.error_code, error.reason, timestamp=timestamp)


def _check_class(message: Message, expected: type[Message] | None, message_id: int) -> None:
    if expected is None:
        raise ValueError(f"{message_name(message_id)} carries no message that can be sent this way")
    if type(message) is not expected:
        raise TypeError(f"{message_name(message_id)} carries a {expected.DESCRIPTOR.name}, "
                        f"not a {type(message).__name__}")


def _envelope(message_id: int, message: Message, sequence_id: int, timestamp: int | None, *,
              no_need_reply: bool = False, sync: bool = False) -> bytes:
    # kotodian-apdu 8: a reply's timestamp is the time it is made, not the request's.
    apdu = pb.APDU(
        timestamp=int(time.time()) if timestamp is None else timestamp,
        sequenceId=sequence_id, messageId=message_id, payload=message.SerializeToString(),
        no_need_reply=no_need_reply, sync=sync,
    )
    return apdu.SerializeToString()


def _readable_ids(data: bytes) -> tuple[int | None, int | None]:
    """sequenceId (#2) and messageId (#3) as far as ``data`` reads as protobuf fields before it breaks,
    so that a broken APDU can still be journaled against the sequence it claimed."""
    sequence_id = message_id = None
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos)
        if key is None:
            break
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _varint(data, pos)
            if value is None:
                break
            # Read as protobuf reads them: uint64 for sequenceId, int32 for the enum messageId.
            if number == 2:
                sequence_id = value & 0xFFFF_FFFF_FFFF_FFFF
            elif number == 3:
                message_id = (value & 0xFFFF_FFFF) - ((value & 0x8000_0000) << 1)
        elif wire_type in (1, 5):
            pos += 8 if wire_type == 1 else 4
        elif wire_type == 2:
            length, pos = _varint(data, pos)
            if length is None:
                break
            pos += length
        else:
            # Groups (3, 4) never occur in the APDU; 6 and 7 are not wire types.
            break
    return sequence_id, message_id


def _varint(data: bytes, pos: int) -> tuple[int | None, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None, pos
