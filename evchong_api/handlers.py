"""The handler table of the EVCHONG forward API (EVCHONG 2.1-2.8): one method each, with the spec's
fields (evchong_api.serializers) and a thin adapter onto a domain service that renders the spec's
answer. Everything here is synchronous and runs in a writer thread of the inbound pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from chargers.choices import Protocol, RegistrationStatus
from chargers.services import (
    IdTagInfo,
    active_transaction_id,
    box_boot,
    connector_status_report,
    idtag_authorize,
)
from core.errors import DomainError
from evchong_api import serializers as s
from evchong_api import vocabulary
from evchong_api.fields import to_epoch_ms
from firmware.services import firmware_status_record
from inbound.edge import Handler
from transactions.services import (
    MeterReport,
    Sample,
    meter_report_check,
    meter_reports_store,
    transaction_start,
    transaction_stop,
)


def id_tag_info_out(info: IdTagInfo) -> dict:
    out: dict = {"status": info.status}
    if info.expiry is not None:
        out["expiryDate"] = to_epoch_ms(info.expiry)
    if info.parent_id_tag:
        out["parentIdTag"] = {"idToken": info.parent_id_tag}
    return out


def samples_in(values: list[dict]) -> list[Sample]:
    return [
        Sample(
            timestamp=v["timestamp"],
            value=v["value"],
            measurand=v["measurand"],
            unit=v.get("unit"),
            phase=v.get("phase") or "",
            location=v.get("location") or "Outlet",
            context=v.get("context") or "Sample.Periodic",
            format=v.get("format") or "Raw",
        )
        for v in values
    ]


def now_ms() -> int:
    return to_epoch_ms(timezone.now())


@dataclass
class Method:
    """A forward method: its name in the URL, its fields, the envelope its request may come in
    (``authReq``), and its domain handler."""

    name: str
    Input: type
    handler: Handler
    envelope: str | None = None


def device_boot(box, data):
    """EVCHONG 2.1."""
    result = box_boot(
        serial=data["chargeBoxSerialNumber"],
        protocol=Protocol.EVCHONG,
        vendor=data["chargePointVendor"],
        model=data.get("chargePointModel") or "",
        charge_point_serial=data["chargePointSerialNumber"],
        firmware_version=data.get("firmwareVersion") or "",
        iccid=data.get("iccid") or "",
        imsi=data.get("imsi") or "",
        meter_type=data.get("meterType") or "",
        meter_serial=data.get("meterSerialNumber") or "",
    )
    # EVCHONG 4.10 knows Accepted and Rejected only: a box awaiting approval is not accepted.
    status = "Accepted" if result.status == RegistrationStatus.ACCEPTED else "Rejected"
    return {
        "heartbeatInterval": result.interval,
        "currentTime": to_epoch_ms(result.current_time),
        "status": status,
    }


def authorize(box, data):
    """EVCHONG 2.2: request and answer wrapped in authReq / authRes."""
    return {"authRes": {"idTagInfo": id_tag_info_out(idtag_authorize(id_tag=data["idTag"], box=box))}}


def heartbeat(box, data):
    """EVCHONG 2.3 (the sign of life every request is, inbound.pipeline, is the whole of it)."""
    # Now, not box.last_seen: that may be a few seconds old on purpose (box_touch_due).
    return {"currentTime": now_ms()}


def start_trans(box, data):
    """EVCHONG 2.4."""
    result = transaction_start(
        box=box,
        connector_id=data["connectorId"],
        id_tag=data["idTag"],
        meter_start_wh=data["meterStart"],
        timestamp=data["timestamp"],
        reservation_id=data.get("reservationId"),
    )
    return {"idTagInfo": id_tag_info_out(result.id_tag_info), "transactionId": result.transaction.id}


def meter_values(box, data):
    """EVCHONG 2.5."""
    (result,) = meter_values_batch([(box, data)])
    if isinstance(result, Exception):
        raise result
    return result


def meter_values_batch(items):
    """The sampled values of a whole batch of requests in one read of sessions and one INSERT."""
    reports, results = [], []
    for box, data in items:
        report = MeterReport(box, data["connectorId"], data["transactionId"], samples_in(data["values"]))
        try:
            meter_report_check(report)
        except DomainError as exc:
            results.append(exc)
            continue
        reports.append(report)
        results.append({"transactionId": data["transactionId"], "timestamp": now_ms()})
    meter_reports_store(reports)
    return results


def stop_trans(box, data):
    """EVCHONG 2.6."""
    result = transaction_stop(
        box=box,
        transaction_id=data["transactionId"],
        meter_stop_wh=data["meterStop"],
        timestamp=data["timestamp"],
        id_tag=data.get("idTag") or None,
        reason=data.get("reason") or "",
        samples=samples_in(data["transactionData"]["values"]),
    )
    # idTagInfo is mandatory in the answer; a stop with no tag for an unknown session is Invalid.
    info = result.id_tag_info or IdTagInfo("Invalid")
    return {"idTagInfo": id_tag_info_out(info), "transactionId": data["transactionId"]}


def status_notify(box, data):
    """EVCHONG 2.7."""
    transaction_id = data.get("transactionId")
    in_session = (transaction_id or 0) > 0 or (
        transaction_id is None and active_transaction_id(box=box, connector_id=data["connectorId"]) is not None
    )
    connector_status_report(
        box=box,
        connector_id=data["connectorId"],
        status=vocabulary.status_to_ocpp(data["status"], in_session=in_session),
        error_code=vocabulary.error_code_to_ocpp(data["errorCode"]),
        timestamp=data["timestamp"],
        info=data.get("info") or "",
        vendor_id=data["vendorId"],
        vendor_error_code=data["vendorErrorCode"],
        raw_status=data["status"],
        raw_error_code=data["errorCode"],
        transaction_id=transaction_id if (transaction_id or 0) > 0 else None,
        periodic=transaction_id == -1,
    )
    return {"timestamp": now_ms()}


def firmware_status_notify(box, data):
    """EVCHONG 2.8."""
    firmware_status_record(box=box, status=data["status"])
    return {"timestamp": now_ms()}


# deviceBoot answers unknown and unaccepted boxes itself (Rejected); every other method refuses them.
METHODS = {method.name: method for method in [
    Method("deviceBoot", s.DeviceBootInput, Handler(device_boot, known_box_only=False, accepted_only=False)),
    Method("authorize", s.AuthorizeInput, Handler(authorize, writes=False), envelope="authReq"),
    Method("heartbeat", s.HeartbeatInput, Handler(heartbeat, writes=False)),
    Method("startTrans", s.StartTransInput, Handler(start_trans)),
    Method("meterValues", s.MeterValuesInput, Handler(meter_values, batch=meter_values_batch)),
    Method("stopTrans", s.StopTransInput, Handler(stop_trans)),
    Method("statusNotify", s.StatusNotifyInput, Handler(status_notify)),
    Method("firmwareStatusNotify", s.FirmwareStatusNotifyInput, Handler(firmware_status_notify)),
]}
