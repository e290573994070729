"""The handler table of the OCPP edge: one handler per message a charge point sends (OCPP 1.6 §4),
each a thin adapter onto a domain service. Everything here is synchronous and runs in a writer
thread of the inbound pipeline (inbound.pipeline), one frame at a time per box."""

from __future__ import annotations

import logging

from django.utils import timezone

from chargers.choices import Protocol
from chargers.models import ChargeBox
from chargers.services import (
    BootReport,
    BootResult,
    IdTagInfo,
    StatusReport,
    box_boots,
    connector_status_report,
    connector_statuses_from,
    data_transfer_receive,
    idtag_authorize,
)
from core.errors import DomainError
from core.moments import moment_format, moment_parse
from firmware.services import diagnostics_status_record, firmware_status_record
from inbound.edge import Handler
from ocpp16.errors import OcppError
from transactions.services import (
    MeterReport,
    Sample,
    meter_report_check,
    meter_reports_store,
    transaction_start,
    transaction_stop,
)

log = logging.getLogger(__name__)


HANDLERS: dict[str, Handler] = {}


def handles(action: str, *, accepted_only: bool = True, writes: bool = True, rewrites_box: bool = False):
    def register(run):
        HANDLERS[action] = Handler(run, accepted_only=accepted_only, writes=writes, rewrites_box=rewrites_box)
        return run

    return register


def handles_batch(action: str):
    def register(batch):
        HANDLERS[action].batch = batch
        return batch

    return register


def id_tag_info_out(info: IdTagInfo) -> dict:
    out: dict = {"status": info.status}
    if info.expiry is not None:
        out["expiryDate"] = moment_format(info.expiry)
    if info.parent_id_tag:
        out["parentIdTag"] = info.parent_id_tag
    return out


def samples_in(meter_values: list[dict]) -> list[Sample]:
    # SampledValue's attributes are Sample's fields by name; what a box leaves out takes the
    # defaults OCPP 1.6 §7.43 gives them, which are Sample's defaults.
    samples = []
    for meter_value in meter_values:
        timestamp = moment_parse(meter_value["timestamp"], "meterValue.timestamp")  # once for all its values
        samples.extend(Sample(timestamp=timestamp, **sampled_value) for sampled_value in meter_value["sampledValue"])
    return samples


@handles("Authorize", writes=False)
def authorize(box: ChargeBox, payload: dict) -> dict:
    return {"idTagInfo": id_tag_info_out(idtag_authorize(id_tag=payload["idTag"], box=box))}


def boot_report_in(box: ChargeBox, payload: dict) -> BootReport:
    return BootReport(
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


def boot_out(result: BootResult) -> dict:
    return {"status": result.status, "currentTime": moment_format(result.current_time), "interval": result.interval}


@handles("BootNotification", accepted_only=False, rewrites_box=True)
def boot_notification(box: ChargeBox, payload: dict) -> dict:
    return boot_out(box_boots([boot_report_in(box, payload)])[0])


@handles_batch("BootNotification")
def boot_notification_batch(items: list[tuple[ChargeBox, dict]]) -> list[dict | OcppError]:
    """A reconnect storm begins with a boot from every box: a batch's worth in three statements."""
    return [boot_out(result) for result in box_boots([boot_report_in(box, payload) for box, payload in items])]


@handles("DataTransfer", writes=False)
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


@handles("Heartbeat", writes=False)
def heartbeat(box: ChargeBox, payload: dict) -> dict:
    return {"currentTime": moment_format(timezone.now())}


def meter_report_in(box: ChargeBox, payload: dict) -> MeterReport:
    report = MeterReport(box, payload["connectorId"], payload.get("transactionId"), samples_in(payload["meterValue"]))
    meter_report_check(report)
    return report


@handles("MeterValues")
def meter_values(box: ChargeBox, payload: dict) -> dict:
    meter_reports_store([meter_report_in(box, payload)])
    return {}


@handles_batch("MeterValues")
def meter_values_batch(items: list[tuple[ChargeBox, dict]]) -> list[dict | OcppError]:
    """The most frequent message: a batch's worth in one read of sessions and one INSERT."""
    answers: list[dict | OcppError] = []
    reports = []
    for box, payload in items:
        try:
            reports.append(meter_report_in(box, payload))
            answers.append({})
        except (OcppError, DomainError) as exc:
            answers.append(exc)
    meter_reports_store(reports)
    return answers


@handles("StartTransaction")
def start_transaction(box: ChargeBox, payload: dict) -> dict:
    result = transaction_start(
        box=box,
        connector_id=payload["connectorId"],
        id_tag=payload["idTag"],
        meter_start_wh=payload["meterStart"],
        timestamp=moment_parse(payload["timestamp"], "timestamp"),
        reservation_id=payload.get("reservationId"),
    )
    return {"idTagInfo": id_tag_info_out(result.id_tag_info), "transactionId": result.transaction.id}


def status_report_in(box: ChargeBox, payload: dict) -> StatusReport:
    return StatusReport(
        box=box,
        connector_id=payload["connectorId"],
        status=payload["status"],
        error_code=payload["errorCode"],
        timestamp=moment_parse(payload["timestamp"], "timestamp") if "timestamp" in payload else None,
        info=payload.get("info", ""),
        vendor_id=payload.get("vendorId", ""),
        vendor_error_code=payload.get("vendorErrorCode", ""),
    )


def status_record(report: StatusReport) -> dict:
    connector_status_report(**vars(report))
    return {}


@handles("StatusNotification")
def status_notification(box: ChargeBox, payload: dict) -> dict:
    return status_record(status_report_in(box, payload))


@handles_batch("StatusNotification")
def status_notification_batch(items: list[tuple[ChargeBox, dict]]) -> list[dict | OcppError]:
    """A reconnect storm's most frequent message: healthy reports of known connectors all at once
    (chargers.services.connector_statuses_from)."""
    return [failure or {} for failure in connector_statuses_from(items, status_report_in, (OcppError,))]


@handles("StopTransaction")
def stop_transaction(box: ChargeBox, payload: dict) -> dict:
    result = transaction_stop(
        box=box,
        transaction_id=payload["transactionId"],
        meter_stop_wh=payload["meterStop"],
        timestamp=moment_parse(payload["timestamp"], "timestamp"),
        id_tag=payload.get("idTag"),
        reason=payload.get("reason", ""),
        samples=samples_in(payload.get("transactionData", [])),
    )
    # idTagInfo is optional in the answer: without a tag there is nothing to say.
    return {"idTagInfo": id_tag_info_out(result.id_tag_info)} if result.id_tag_info else {}
