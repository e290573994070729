"""One handler per message a charge point sends (OCPP 1.6 §4), each a thin adapter onto a domain
service, and the database work each frame costs. Everything here is synchronous and runs in a
worker thread, one frame at a time per box."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import DataError

from chargers.choices import Direction, Protocol
from chargers.models import ChargeBox
from chargers.services import (
    IdTagInfo,
    box_boot,
    box_get,
    box_require_accepted,
    box_touch,
    connector_status_report,
    data_transfer_receive,
    idtag_authorize,
    journal_record,
)
from evchong.errors import DomainError, UnknownChargeBox
from firmware.services import diagnostics_status_record, firmware_status_record
from ocpp16.errors import ErrorCode, OcppError, error_for
from ocpp16.rpc import Call, error_frame, result_frame
from ocpp16.schemas import ACTIONS, validate_request
from transactions.services import Sample, meter_values_store, transaction_start, transaction_stop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handler:
    run: Callable[[ChargeBox, dict], dict]
    accepted_only: bool


HANDLERS: dict[str, Handler] = {}


def handles(action: str, *, accepted_only: bool = True):
    def register(run):
        HANDLERS[action] = Handler(run, accepted_only)
        return run

    return register


def time_in(value: str, field: str) -> datetime:
    # The schema's date-time pattern lets through dates that do not exist (month 19, hour 25).
    # RFC 3339 §5.6 allows a lower-case "t" and "z", which the schema takes and fromisoformat
    # does not: upper-casing changes nothing else in a date-time.
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:
        raise OcppError(
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, f"{field} {value!r} is not a valid date-time"
        ) from None


def time_out(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def id_tag_info_out(info: IdTagInfo) -> dict:
    out: dict = {"status": info.status}
    if info.expiry is not None:
        out["expiryDate"] = time_out(info.expiry)
    if info.parent_id_tag:
        out["parentIdTag"] = info.parent_id_tag
    return out


def samples_in(meter_values: list[dict]) -> list[Sample]:
    # SampledValue's attributes are Sample's fields by name; what a box leaves out takes the
    # defaults OCPP 1.6 §7.43 gives them, which are Sample's defaults.
    return [
        Sample(timestamp=time_in(meter_value["timestamp"], "meterValue.timestamp"), **sampled_value)
        for meter_value in meter_values
        for sampled_value in meter_value["sampledValue"]
    ]


@handles("Authorize")
def authorize(box: ChargeBox, payload: dict) -> dict:
    return {"idTagInfo": id_tag_info_out(idtag_authorize(id_tag=payload["idTag"]))}


@handles("BootNotification", accepted_only=False)
def boot_notification(box: ChargeBox, payload: dict) -> dict:
    result = box_boot(
        serial=box.serial,
        protocol=Protocol.OCPP16,
        vendor=payload["chargePointVendor"],
        model=payload["chargePointModel"],
        charge_point_serial=payload.get("chargePointSerialNumber", ""),
        firmware_version=payload.get("firmwareVersion", ""),
        iccid=payload.get("iccid", ""),
        imsi=payload.get("imsi", ""),
        meter_type=payload.get("meterType", ""),
        meter_serial=payload.get("meterSerialNumber", ""),
    )
    return {"status": result.status, "currentTime": time_out(result.current_time), "interval": result.interval}


@handles("DataTransfer")
def data_transfer(box: ChargeBox, payload: dict) -> dict:
    status = data_transfer_receive(
        box=box, vendor_id=payload["vendorId"], message_id=payload.get("messageId", ""), data=payload.get("data", "")
    )
    return {"status": status}


@handles("DiagnosticsStatusNotification")
def diagnostics_status_notification(box: ChargeBox, payload: dict) -> dict:
    diagnostics_status_record(box=box, status=payload["status"])
    return {}


@handles("FirmwareStatusNotification")
def firmware_status_notification(box: ChargeBox, payload: dict) -> dict:
    firmware_status_record(box=box, status=payload["status"])
    return {}


@handles("Heartbeat")
def heartbeat(box: ChargeBox, payload: dict) -> dict:
    return {"currentTime": time_out(box.last_seen)}  # box_touch set it for this very message


@handles("MeterValues")
def meter_values(box: ChargeBox, payload: dict) -> dict:
    meter_values_store(
        box=box,
        connector_id=payload["connectorId"],
        transaction_id=payload.get("transactionId"),
        samples=samples_in(payload["meterValue"]),
    )
    return {}


@handles("StartTransaction")
def start_transaction(box: ChargeBox, payload: dict) -> dict:
    result = transaction_start(
        box=box,
        connector_id=payload["connectorId"],
        id_tag=payload["idTag"],
        meter_start_wh=payload["meterStart"],
        timestamp=time_in(payload["timestamp"], "timestamp"),
        reservation_id=payload.get("reservationId"),
    )
    return {"idTagInfo": id_tag_info_out(result.id_tag_info), "transactionId": result.transaction.id}


@handles("StatusNotification")
def status_notification(box: ChargeBox, payload: dict) -> dict:
    connector_status_report(
        box=box,
        connector_id=payload["connectorId"],
        status=payload["status"],
        error_code=payload["errorCode"],
        timestamp=time_in(payload["timestamp"], "timestamp") if "timestamp" in payload else None,
        info=payload.get("info", ""),
        vendor_id=payload.get("vendorId", ""),
        vendor_error_code=payload.get("vendorErrorCode", ""),
    )
    return {}


@handles("StopTransaction")
def stop_transaction(box: ChargeBox, payload: dict) -> dict:
    result = transaction_stop(
        box=box,
        transaction_id=payload["transactionId"],
        meter_stop_wh=payload["meterStop"],
        timestamp=time_in(payload["timestamp"], "timestamp"),
        id_tag=payload.get("idTag"),
        reason=payload.get("reason", ""),
        samples=samples_in(payload.get("transactionData", [])),
    )
    # idTagInfo is optional in the answer: without a tag there is nothing to say.
    return {"idTagInfo": id_tag_info_out(result.id_tag_info)} if result.id_tag_info else {}


def _handle(box: ChargeBox, call: Call) -> dict:
    handler = HANDLERS.get(call.action)
    if handler is None:
        if call.action in ACTIONS:
            raise OcppError(ErrorCode.NOT_SUPPORTED, f"{call.action} is not a call a charge point makes")
        raise OcppError(ErrorCode.NOT_IMPLEMENTED, f"unknown action {call.action!r}")
    validate_request(call.action, call.payload)
    try:
        if handler.accepted_only:
            box_require_accepted(box=box)
        return handler.run(box, call.payload)
    except OcppError:
        raise
    except DomainError as exc:
        raise error_for(exc) from None
    except DataError:
        # A number the schema allows (any integer) but the database cannot hold.
        raise OcppError(
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "a value is out of the range this system stores"
        ) from None
    except Exception:
        log.exception("OCPP %s from %s failed", call.action, box.serial)
        raise OcppError(ErrorCode.INTERNAL_ERROR, f"the central system failed to process {call.action}") from None


def storable(frame: str) -> str:
    """A frame as the journal can keep it. JSON allows NUL only escaped, so a broken frame may carry
    a raw one, which PostgreSQL text cannot hold: failing to journal it closed the box's connection
    (1011) or turned a FormationViolation into an InternalError. Kept as the JSON escape instead."""
    return frame.replace("\x00", "\\u0000")


def call_answer(*, serial: str, frame: str, call: Call | None, error: OcppError | None = None) -> str:
    """Everything a CALL from a box costs: a sign of life, the frame in the journal, the handler
    (whose services commit before we answer), the answer in the journal. Returns the answer frame.
    ``error`` is a frame already found broken; it is journaled and answered the same way."""
    unique_id = call.unique_id if call else None
    try:
        # Read afresh for every CALL: an operator may have accepted the box since the last one.
        box = box_get(serial=serial, require_accepted=False)
    except UnknownChargeBox as exc:  # deleted in the admin while connected
        return error_frame(error_for(exc), unique_id)
    box_touch(box=box, protocol=Protocol.OCPP16)
    action = call.action if call else ""
    journal_record(box=box, direction=Direction.IN, protocol=Protocol.OCPP16, action=action, payload=storable(frame))
    if error is None:
        try:
            answer = result_frame(call.unique_id, _handle(box, call))
        except OcppError as exc:
            error = exc
    if error is not None:
        answer = error_frame(error, unique_id)
    journal_record(box=box, direction=Direction.OUT, protocol=Protocol.OCPP16, action=action, payload=answer)
    return answer


def frame_received(*, box: ChargeBox, frame: str, action: str) -> None:
    """An answer (or a frame we ignore): a sign of life, and journaled."""
    box_touch(box=box, protocol=Protocol.OCPP16)
    journal_record(box=box, direction=Direction.IN, protocol=Protocol.OCPP16, action=action, payload=storable(frame))


def frame_sent(*, box: ChargeBox, frame: str, action: str) -> None:
    journal_record(box=box, direction=Direction.OUT, protocol=Protocol.OCPP16, action=action, payload=frame)
