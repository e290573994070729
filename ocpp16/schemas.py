"""The official OCPP 1.6 JSON schemas, read from the installed `ocpp` package (never copied here) and
compiled once, at import, into validators."""

from __future__ import annotations

import json
from importlib.resources import files

import fastjsonschema

from ocpp16.errors import ErrorCode, OcppError


def _compile_all() -> dict[str, object]:
    folder = files("ocpp.v16") / "schemas"
    return {
        entry.name.removesuffix(".json"): fastjsonschema.compile(json.loads(entry.read_text(encoding="utf-8")))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


_VALIDATORS = _compile_all()

# Every action the schemas know: OCPP 1.6 and its security extension.
ACTIONS = frozenset(name for name in _VALIDATORS if not name.endswith("Response"))

# OCPP 1.6 §4: what a charge point sends. DataTransfer goes both ways.
CHARGE_POINT_ACTIONS = frozenset({
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
    "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction",
    "StatusNotification", "StopTransaction",
})
# OCPP 1.6 §5: what a central system sends.
CENTRAL_SYSTEM_ACTIONS = frozenset({
    "CancelReservation", "ChangeAvailability", "ChangeConfiguration", "ClearCache", "ClearChargingProfile",
    "DataTransfer", "GetCompositeSchedule", "GetConfiguration", "GetDiagnostics", "GetLocalListVersion",
    "RemoteStartTransaction", "RemoteStopTransaction", "ReserveNow", "Reset", "SendLocalList",
    "SetChargingProfile", "TriggerMessage", "UnlockConnector", "UpdateFirmware",
})

# Which OCPP-J error a failed schema keyword means (OCPP-J 1.6 §4.2.3); the rest (enum, maxLength,
# format, minimum, ...) are invalid values: PropertyConstraintViolation.
_CODE_BY_RULE = {
    "required": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorCode.FORMATION_VIOLATION,
}


def validate_request(action: str, payload: dict) -> None:
    _validate(action, payload)


def validate_response(action: str, payload: dict) -> None:
    _validate(f"{action}Response", payload)


def _validate(name: str, payload: dict) -> None:
    try:
        _VALIDATORS[name](payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        code = _CODE_BY_RULE.get(exc.rule, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION)
        raise OcppError(code, _readable(exc.message)) from None


def _readable(message: str) -> str:
    # fastjsonschema names the document "data": "data.idTag must be ..." reads better as "idTag must be ...".
    if message.startswith("data."):
        return message[len("data."):]
    if message.startswith("data"):
        return "payload" + message[len("data"):]
    return message
