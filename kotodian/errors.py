"""What ``kotodian.codec.decode`` raises, and how an edge answers each (DESIGN 3, "Errors").

Every exception keeps the request's sequenceId when the bytes let it be read, so that the answer
can be matched to the request by the box (kotodian-apdu 1.1)."""

from __future__ import annotations

from kotodian.proto import charger_pb2 as pb


class CodecError(Exception):
    """Base of everything ``decode`` raises for bad input. ``error_code`` is the MessageError code
    to answer with (kotodian-apdu 1.2), or None when the message is to be journaled and dropped."""

    error_code: int | None = None

    def __init__(self, reason: str, *, sequence_id: int | None = None, message_id: int | None = None,
                 sync: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sequence_id = sequence_id
        self.message_id = message_id
        self.sync = sync


class MalformedApdu(CodecError):
    """The bytes are not an APDU. Nobody can be sure whom to answer, so nobody is answered;
    ``sequence_id``/``message_id`` are what could be read before the bytes went wrong, if anything."""


class UnknownMessage(CodecError):
    """The APDU is fine but its messageId has no message type in v1.10.47 (unknown ids, ID_None,
    CustomerInformation): answered with EC_NotSupported."""

    error_code = pb.EC_NotSupported


class MalformedPayload(CodecError):
    """The messageId is known but the payload does not parse as its message: answered with
    EC_ProtocolError (kotodian-apdu 1.2: "payload could not be parsed")."""

    error_code = pb.EC_ProtocolError
