"""OCPP-J 1.6 RPC frames (OCPP-J 1.6 §4): what a box sends, parsed, and what we send, rendered."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass

import orjson

from ocpp16.errors import ErrorCode, OcppError

CALL, CALLRESULT, CALLERROR = 2, 3, 4
UNIQUE_ID_MAX = 36  # OCPP-J 1.6 §4.1.4
# The id to answer with when a frame is too broken to carry one (the OCPP-J convention).
UNKNOWN_ID = "-1"
# Best effort for frames that are not JSON: an id at the usual place is still worth echoing.
_START_OF_BROKEN_FRAME = re.compile(r'^\s*\[\s*(\d)\s*,\s*"([^"\\]{1,%d})"' % UNIQUE_ID_MAX)


@dataclass(frozen=True)
class Call:
    unique_id: str
    action: str
    payload: dict


@dataclass(frozen=True)
class CallResult:
    unique_id: str
    payload: dict


@dataclass(frozen=True)
class CallError:
    unique_id: str
    code: str
    description: str


class FrameError(OcppError):
    """A frame that breaks OCPP-J itself. ``message_type`` says what it meant to be, when readable:
    a broken CALL is answered with a CALLERROR, a broken answer is not (§4.2.3)."""

    def __init__(self, code: ErrorCode, description: str, *, unique_id: str, message_type: int | None = None):
        super().__init__(code, description, unique_id=unique_id)
        self.message_type = message_type


def parse(text: str) -> Call | CallResult | CallError:
    try:
        message = _loads(text)
    except ValueError as exc:
        found = _START_OF_BROKEN_FRAME.match(text)
        raise FrameError(
            ErrorCode.FORMATION_VIOLATION, f"the frame is not valid JSON: {exc}",
            unique_id=found.group(2) if found else UNKNOWN_ID,
            message_type=int(found.group(1)) if found else None,
        ) from None
    if not isinstance(message, list) or not message:
        raise FrameError(ErrorCode.FORMATION_VIOLATION, "an OCPP-J message is a non-empty JSON array",
                         unique_id=UNKNOWN_ID)
    kind = message[0]
    unique_id = message[1] if len(message) > 1 else None
    if not isinstance(unique_id, str):
        raise FrameError(ErrorCode.FORMATION_VIOLATION, "the second element, the unique id, must be a string",
                         unique_id=UNKNOWN_ID)
    # bool is an int in Python, but `true` is no message type number.
    if type(kind) is not int:
        raise FrameError(ErrorCode.FORMATION_VIOLATION, "the first element must be the message type number 2, 3 or 4",
                         unique_id=unique_id)
    if kind not in (CALL, CALLRESULT, CALLERROR):
        raise FrameError(ErrorCode.PROTOCOL_ERROR, f"message type {kind} is not part of OCPP-J 1.6",
                         unique_id=unique_id)
    if not 0 < len(unique_id) <= UNIQUE_ID_MAX:
        raise FrameError(ErrorCode.FORMATION_VIOLATION, f"the unique id must be 1 to {UNIQUE_ID_MAX} characters",
                         unique_id=unique_id, message_type=kind)
    if kind == CALL:
        return _call(message, unique_id)
    if kind == CALLRESULT:
        _require_length(message, 3, "[3, uniqueId, payload]")
        return CallResult(unique_id, _payload(message[2], message))
    _require_length(message, 5, "[4, uniqueId, errorCode, errorDescription, errorDetails]")
    if not isinstance(message[2], str) or not isinstance(message[3], str):
        raise FrameError(ErrorCode.FORMATION_VIOLATION, "errorCode and errorDescription must be strings",
                         unique_id=unique_id, message_type=kind)
    return CallError(unique_id, message[2], message[3])


def _loads(text: str):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        # orjson refuses integers beyond 64 bits, which JSON allows: such a frame is valid JSON, and
        # its too large number is the schema's to refuse, not a formation violation.
        if "64-bit" not in str(exc):
            raise
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise exc from None


def _call(message: list, unique_id: str) -> Call:
    if len(message) < 4:
        # The one shape the spec names: "Payload for Action is incomplete".
        raise FrameError(ErrorCode.PROTOCOL_ERROR, "a CALL is [2, uniqueId, action, payload]; elements are missing",
                         unique_id=unique_id, message_type=CALL)
    _require_length(message, 4, "[2, uniqueId, action, payload]")
    if not isinstance(message[2], str) or not message[2]:
        raise FrameError(ErrorCode.FORMATION_VIOLATION, "the action must be a non-empty string",
                         unique_id=unique_id, message_type=CALL)
    return Call(unique_id, message[2], _payload(message[3], message))


def _require_length(message: list, length: int, shape: str) -> None:
    if len(message) != length:
        raise FrameError(ErrorCode.FORMATION_VIOLATION, f"expected {length} elements: {shape}",
                         unique_id=message[1], message_type=message[0])


def _payload(payload, message: list) -> dict:
    # OCPP-J 1.6 §4.2.1: "no payload" may be written null as well as {}.
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise FrameError(ErrorCode.FORMATION_VIOLATION, "the payload must be a JSON object",
                         unique_id=message[1], message_type=message[0])
    return payload


def new_unique_id() -> str:
    return str(uuid.uuid4())


def _dumps(message: list) -> str:
    return orjson.dumps(message).decode()


def call_frame(unique_id: str, action: str, payload: dict) -> str:
    return _dumps([CALL, unique_id, action, payload])


def result_frame(unique_id: str, payload: dict) -> str:
    return _dumps([CALLRESULT, unique_id, payload])


def error_frame(error: OcppError, unique_id: str | None = None, details: dict | None = None) -> str:
    return _dumps([CALLERROR, unique_id or error.unique_id or UNKNOWN_ID, error.code, error.description[:255],
                   details or {}])
