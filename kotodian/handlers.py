"""The handler table of the Kotodian edge: one handler per message a Kotodian box sends, each a thin
adapter from the protobuf message (kotodian/proto) onto the same domain services the OCPP handlers
use, and back to the protobuf reply. Numbers and units as DESIGN 3 fixes them: status 0 is
accepted, meterStart/meterStop are kWh, times are Unix seconds, connectorState is the platform table
(kotodian.names.CONNECTOR_STATES). Everything here is synchronous and runs in a writer thread of the
inbound pipeline (inbound.pipeline).

Keys are action names as ``kotodian.messages.action_name`` spells them ("Heartbeat" for 0x02)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

from django.utils import timezone

from chargers.choices import AuthorizationStatus, ChargePointErrorCode, ChargePointStatus, Protocol, RegistrationStatus
from chargers.models import ChargeBox
from chargers.services import (
    CONNECTOR_ID_MAX,
    BootReport,
    IdTagInfo,
    active_transaction_id,
    StatusReport,
    box_boots,
    boxes_connected,
    connector_statuses_from,
    data_transfer_receive,
    idtag_authorize,
)
from core.errors import DomainError, UnknownChargeBox
from firmware.choices import DiagnosticsStatus, FirmwareStatus
from firmware.services import diagnostics_status_record, firmware_status_record
from inbound.edge import Handler
from kotodian.credentials import box_credentials
from kotodian.names import CONNECTOR_STATES, MEASURANDS, STOP_REASONS
from kotodian.price_schemes import box_tariff, set_tariff_req
from kotodian.proto import charger_pb2 as pb
from kotodian.tariffs import tariff_push_after_boots
from transactions.choices import Location, ReadingContext, Reason
from transactions.models import Transaction
from transactions.services import (
    MeterReport,
    Sample,
    meter_report_check,
    meter_reports_store,
    transaction_start,
    transaction_stop,
)

# What connected_node holds for a box reached through the broker: any bridge process can publish to
# it, so the node names the way, not a process.
NODE = "kotodian-mqtt"

HANDLERS: dict[str, Handler] = {}


class WrongRegistrationCode(DomainError):
    """A registration whose code is not the box's password: counted against its sender
    (security.bruteforce, kotodian.bridge)."""


class FieldInvalid(DomainError):
    """A field whose value the edge cannot read (a connectorId that is no number, a time out of
    range): answered with EC_TypeViolation, "parsed, but a field has the wrong type" (kotodian-apdu 1.2)."""


def handles(action: str, **options):
    def register(run):
        HANDLERS[action] = Handler(run, **options)
        return run

    return register


def batched(action: str, **options):
    """A handler written once, in its batch form ``[(box, request)] -> [answer or exception]``; a
    message written alone (inbound.pipeline's retry) is a batch of one. For the messages a
    reconnect storm is made of, and the meter messages: thousands at once in a few statements."""

    def register(batch):
        def run(box, request):
            (result,) = batch([(box, request)])
            if isinstance(result, Exception):
                raise result
            return result

        HANDLERS[action] = Handler(run, batch=batch, **options)
        return batch

    return register


# ---------------------------------------------------------------------------------------------
# Reading fields


def number_in(value: str, field: str, *, empty: int | None = None) -> int | None:
    """A decimal string (Kotodian's ids are strings in v1.10.x) as an int; ``empty`` for ""."""
    value = value.strip()
    if not value:
        return empty
    try:
        return int(value)
    except ValueError:
        raise FieldInvalid(f"{field} {value!r} is not a number", field=field) from None


def connector_in(value: str, *, empty: int | None = 0) -> int:
    number = number_in(value, "connectorId", empty=empty)
    if number is None or not 0 <= number <= CONNECTOR_ID_MAX:
        raise FieldInvalid(f"there is no connector {value!r}", field="connectorId")
    return number


def time_in(seconds: int, field: str) -> datetime:
    """Unix seconds; 0 (proto3's "not sent") is now."""
    if not seconds:
        return timezone.now()
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise FieldInvalid(f"{field} {seconds} is not a time", field=field) from None


def time_out(moment: datetime) -> int:
    return int(moment.timestamp())


def wh_in(kwh: float, field: str) -> int:
    """kWh (DESIGN 3) as whole Wh, the domain's unit."""
    if not math.isfinite(kwh) or not 0 <= kwh < 2**31 / 1000:
        raise FieldInvalid(f"{field} {kwh} kWh is not a meter reading", field=field)
    return round(kwh * 1000)


def text_in(value: str, field: str, max_length: int) -> str:
    if len(value) > max_length:
        raise FieldInvalid(f"{field} is longer than {max_length} characters", field=field)
    return value


def box_text(value: str, name: str) -> str:
    """What a box says of itself, cut to what the box's row keeps of it."""
    return value[: ChargeBox._meta.get_field(name).max_length]


def required_box(box: ChargeBox | None, serial: str) -> ChargeBox:
    if box is None:
        raise UnknownChargeBox(f"unknown charge box {serial!r}", field="serialNumber")
    return box


# ---------------------------------------------------------------------------------------------
# Registration and boot

AUTHORIZATION_STATUSES = {
    AuthorizationStatus.ACCEPTED: pb.AS_Accepted,
    AuthorizationStatus.BLOCKED: pb.AS_Blocked,
    AuthorizationStatus.EXPIRED: pb.AS_Expired,
    AuthorizationStatus.INVALID: pb.AS_Invalid,
    AuthorizationStatus.CONCURRENT_TX: pb.AS_ConcurrentTx,
}


def id_token_out(id_tag: str, info: IdTagInfo) -> pb.IdToken:
    token = pb.IdToken(id=id_tag, status=AUTHORIZATION_STATUSES.get(info.status, pb.AS_Invalid))
    if info.expiry is not None:
        token.expiryDate = min(time_out(info.expiry), 2**31 - 1)
    return token


@batched("DeviceRegistration", known_box_only=False, accepted_only=False)
def device_registration(items: list[tuple[ChargeBox | None, pb.DeviceRegistrationReq]]) -> list:
    """DESIGN 3: the serial given to ``addbox``; a box added with a password must present it as its
    registrationCode. Its deviceCode is its serial: the same at every registration; so are the MQTT
    credentials it is given (kotodian.credentials: derived, not stored; docs/adr/0021)."""
    answers, reachable = [], []
    for box, req in items:
        try:
            box = required_box(box, req.serialNumber)
            if box.requires_auth and not box.check_password(req.registrationCode):
                raise WrongRegistrationCode("wrong registration code", field="registrationCode")
        except DomainError as exc:
            answers.append(exc)
            continue
        if box.registration_status == RegistrationStatus.ACCEPTED:  # the boot will say whether it is not
            reachable.append(box)
        mqtt = box_credentials(box.serial)
        answers.append(pb.DeviceRegistrationConf(status=0, deviceCode=box.serial, mqttUsername=mqtt.username,
                                                 mqttPassword=mqtt.password))
    boxes_connected(reachable, protocol=Protocol.KOTODIAN, node=NODE)
    return answers


def boot_report_in(box: ChargeBox, req: pb.BootNotificationReq) -> BootReport:
    return BootReport(
        serial=box.serial,
        protocol=Protocol.KOTODIAN,
        vendor=box_text(req.vendorId, "vendor"),
        model=box_text(req.partNumber, "model"),
        firmware_version=box_text(req.firmwareVersion, "firmware_version"),
        iccid=box_text(req.ICCID, "iccid"),
    )


@batched("BootNotification", accepted_only=False, rewrites_box=True)
def boot_notification(items: list[tuple[ChargeBox, pb.BootNotificationReq]]) -> list:
    results = box_boots([boot_report_in(box, req) for box, req in items])
    accepted = [box for (box, _), result in zip(items, results, strict=True)
                if result.status == RegistrationStatus.ACCEPTED]
    # Reachable for commands from now on (kotodian.presence clears it once the box falls silent),
    # and sent its tariff once the boots are committed (kotodian.tariffs).
    boxes_connected(accepted, protocol=Protocol.KOTODIAN, node=NODE)
    tariff_push_after_boots(accepted)
    return [pb.BootNotificationConf(currentTime=time_out(result.current_time), interval=result.interval,
                                    status=0 if result.status == RegistrationStatus.ACCEPTED else 1)
            for result in results]


@batched("Heartbeat")
def heartbeat(items: list[tuple[ChargeBox, pb.HeartbeatReq]]) -> list:
    # The sign of life every message is (inbound.pipeline), and, for a box that was silent long enough
    # to be released (kotodian.presence), reachable for commands again, and sent its tariff as at a
    # boot: a change while it was away never reached it.
    back = [box for box, _ in items if box.connected_node != NODE]
    boxes_connected(back, protocol=Protocol.KOTODIAN, node=NODE)
    tariff_push_after_boots(back)
    return [pb.HeartbeatResp(connectorId=req.connectorId) for _, req in items]


# ---------------------------------------------------------------------------------------------
# Sessions


@handles("Authorize", writes=False)
def authorize(box: ChargeBox, req: pb.AuthorizeReq) -> pb.AuthorizeConf:
    id_tag = req.IdData.id
    conf = pb.AuthorizeConf(idInfo=id_token_out(id_tag, idtag_authorize(id_tag=id_tag, box=box)))
    tariff = box_tariff(box)
    if tariff is not None:  # what the session will be billed by, for the box to show
        conf.priceScheme.CopyFrom(set_tariff_req(tariff))
    return conf


def id_tag_in(req) -> str:
    return text_in(req.IdData.id, "IdData.id", Transaction._meta.get_field("id_tag").max_length)


@handles("StartTransaction")
def start_transaction(box: ChargeBox, req: pb.StartTransactionReq) -> pb.StartTransactionConf:
    id_tag = id_tag_in(req)
    result = transaction_start(
        box=box,
        connector_id=connector_in(req.connectorId),
        id_tag=id_tag,
        meter_start_wh=wh_in(req.meterStart, "meterStart"),
        timestamp=time_in(req.timestamp, "timestamp"),
        reservation_id=req.reservationId or None,
    )
    return pb.StartTransactionConf(
        transactionId=str(result.transaction.id), idInfo=id_token_out(id_tag, result.id_tag_info),
        recordID=req.recordId, transparent=req.transparent, connectorId=req.connectorId,
    )


def stop_reason_in(code: int) -> str:
    """The StopReason's name where the session's stop_reason column can hold it (DESIGN 3 keeps the
    box's reason); the longer names are Other there, and whole in the box's journal."""
    name = STOP_REASONS.get(code)
    if name and len(name) <= Transaction._meta.get_field("stop_reason").max_length:
        return name
    return Reason.OTHER


FEN = Decimal("0.01")


def box_cost_in(message) -> Decimal | None:
    """The box's own bill (Cost.totalcost, in fen: DESIGN 3) in currency units; None when it sent none."""
    if not message.HasField("cost"):
        return None
    return Decimal(message.cost.totalcost) * FEN


@handles("StopTransaction")
def stop_transaction(box: ChargeBox, req: pb.StopTransactionReq) -> pb.StopTransactionConf:
    transaction_id = number_in(req.transactionId, "transactionId")
    if transaction_id is None or not 0 < transaction_id < 2**63:
        raise FieldInvalid(f"transactionId {req.transactionId!r} is not one of ours", field="transactionId")
    transaction_stop(
        box=box,
        transaction_id=transaction_id,
        meter_stop_wh=wh_in(req.meterStop, "meterStop"),
        timestamp=time_in(req.timestamp, "timestamp"),
        id_tag=id_tag_in(req) or None,
        reason=stop_reason_in(req.reason),
        box_reported_cost=box_cost_in(req),
    )
    return pb.StopTransactionConf(transactionId=req.transactionId, connectorId=req.connectorId)


# ---------------------------------------------------------------------------------------------
# Meter values: MeterValues, ChargingInfo and Telemetry have no reply (kotodian-apdu 1.3)

PHASES = ("L1", "L2", "L3")


def sample(timestamp: datetime, value: float, measurand: str, unit: str, *, phase: str = "",
           location: str = Location.OUTLET, context: str = ReadingContext.SAMPLE_PERIODIC) -> Sample:
    return Sample(timestamp=timestamp, value=repr(float(value)), measurand=measurand, unit=unit, phase=phase,
                  location=location, context=context)


def electric_samples(timestamp: datetime, req) -> list[Sample]:
    """The fields MeterValuesReq and ChargingInfoReq share. proto3 cannot tell a 0 from a field not
    sent, so a zero reading is not stored."""
    samples = []
    if req.electricity:
        samples.append(sample(timestamp, req.electricity, "Energy.Active.Import.Register", "kWh"))
    for phase, current, voltage in zip(PHASES, (req.currentA, req.currentB, req.currentC),
                                       (req.voltageA, req.voltageB, req.voltageC), strict=True):
        if current:
            samples.append(sample(timestamp, current, "Current.Import", "A", phase=phase))
        if voltage:
            samples.append(sample(timestamp, voltage, "Voltage", "V", phase=phase))
    if req.power:
        samples.append(sample(timestamp, req.power, "Power.Active.Import", "kW"))
    if req.soc:
        samples.append(sample(timestamp, req.soc, "SoC", "Percent", location=Location.EV))
    return samples


def meter_values_in(box: ChargeBox, req: pb.MeterValuesReq) -> MeterReport:
    timestamp = time_in(req.timestamp, "timestamp")
    samples = electric_samples(timestamp, req)
    if req.tempEvse:
        samples.append(sample(timestamp, req.tempEvse, "Temperature", "Celsius", location=Location.BODY))
    if req.tempBattery:
        samples.append(sample(timestamp, req.tempBattery, "Temperature", "Celsius", location=Location.EV))
    return MeterReport(box, connector_in(req.connectorId), number_in(req.transactionId, "transactionId"), samples)


def charging_info_in(box: ChargeBox, req: pb.ChargingInfoReq) -> MeterReport:
    # recordId is the box's own record number, not a session of ours: the values stay unlinked
    # unless the connector's session is named elsewhere.
    return MeterReport(box, connector_in(req.connectorId), None, electric_samples(time_in(req.timestamp, "timestamp"),
                                                                                   req))


# Measurand codes (measure.proto, kotodian-apdu Appendix C) that have an OCPP measurand: (measurand,
# unit, multiplier to that unit, phase, location). The others are kept under their Kotodian name.
TELEMETRY = {
    100: ("Temperature", "Celsius", 1, "", Location.BODY),
    101: ("Voltage", "V", 1, "", Location.OUTLET),
    102: ("Voltage", "V", 0.001, "", Location.OUTLET),
    103: ("Current.Import", "A", 1, "", Location.OUTLET),
    104: ("Power.Active.Import", "W", 1, "", Location.OUTLET),
    105: ("RPM", "", 1, "", Location.BODY),
    106: ("SoC", "Percent", 1, "", Location.EV),
    117: ("Voltage", "V", 1, "", Location.INLET),
    118: ("Voltage", "V", 1, "L1", Location.INLET),
    119: ("Voltage", "V", 1, "L2", Location.INLET),
    120: ("Voltage", "V", 1, "L3", Location.INLET),
    121: ("Current.Import", "A", 1, "", Location.INLET),
    122: ("Current.Import", "A", 1, "L1", Location.INLET),
    123: ("Current.Import", "A", 1, "L2", Location.INLET),
    124: ("Current.Import", "A", 1, "L3", Location.INLET),
    125: ("Voltage", "V", 1, "", Location.OUTLET),
    126: ("Current.Import", "A", 1, "", Location.OUTLET),
    134: ("Energy.Active.Import.Register", "kWh", 1, "", Location.OUTLET),
    136: ("Voltage", "V", 1, "L1", Location.OUTLET),
    137: ("Voltage", "V", 1, "L2", Location.OUTLET),
    138: ("Voltage", "V", 1, "L3", Location.OUTLET),
    139: ("Current.Import", "A", 1, "L1", Location.OUTLET),
    140: ("Current.Import", "A", 1, "L2", Location.OUTLET),
    141: ("Current.Import", "A", 1, "L3", Location.OUTLET),
    142: ("Power.Active.Import", "kW", 1, "", Location.OUTLET),
    143: ("Current.Import", "A", 0.001, "", Location.OUTLET),
}


def telemetry_in(box: ChargeBox, req: pb.TelemetryReq) -> MeterReport:
    timestamp = timezone.now()  # TelemetryReq carries no time: it is taken as it arrives
    samples = []
    for value in req.values:
        number = value.value * (value.rate or 1)
        if not math.isfinite(number):
            raise FieldInvalid(f"a value of measurand {value.measurand} is not a number", field="values")
        if value.measurand in TELEMETRY:
            measurand, unit, factor, phase, location = TELEMETRY[value.measurand]
            samples.append(sample(timestamp, number * factor, measurand, unit, phase=phase, location=location))
        else:
            # Kept as reported, under its name (or the vendor's), with no unit to convert.
            name = value.vendorEx or MEASURANDS.get(value.measurand) or str(value.measurand)
            samples.append(sample(timestamp, number, name[:40], "", location=Location.BODY))
    return MeterReport(box, connector_in(req.connectorId), None, samples)


def meter_reports_batch(read):
    """The batch form of a meter message: every box's report read by ``read``, checked, and the
    whole batch's values stored in one INSERT."""

    def batch(items: list[tuple[ChargeBox, object]]) -> list:
        answers, reports = [], []
        for box, req in items:
            try:
                report = read(box, req)
                meter_report_check(report)
            except DomainError as exc:
                answers.append(exc)
                continue
            reports.append(report)
            answers.append(None)
        meter_reports_store(reports)
        return answers

    return batch


batched("MeterValues")(meter_reports_batch(meter_values_in))
batched("ChargingInfo")(meter_reports_batch(charging_info_in))
batched("Telemetry")(meter_reports_batch(telemetry_in))


# ---------------------------------------------------------------------------------------------
# Connector status, firmware, vendor data

STATES = {name: name for name in ChargePointStatus.values}


def status_report_in(box: ChargeBox, req: pb.StatusNotificationReq) -> StatusReport:
    """connectorState by DESIGN 3's table. Occupied (a car at the connector) is kept as the box said
    it and shown as in use: Charging during a session, Preparing otherwise, as EVCHONG's Occupied."""
    word = CONNECTOR_STATES.get(req.connectorState)
    if word is None:
        raise FieldInvalid(f"connectorState {req.connectorState} is not in the table", field="connectorState")
    connector_id = connector_in(req.connectorId)
    if word == "Occupied":
        in_session = active_transaction_id(box=box, connector_id=connector_id) is not None
        status = ChargePointStatus.CHARGING if in_session else ChargePointStatus.PREPARING
    else:
        status = STATES[word]
    faulted = status == ChargePointStatus.FAULTED
    return StatusReport(
        box=box,
        connector_id=connector_id,
        status=status,
        error_code=ChargePointErrorCode.OTHER_ERROR if faulted else ChargePointErrorCode.NO_ERROR,
        timestamp=None,  # StatusNotificationReq carries no time
        raw_status=word,
    )


@batched("StatusNotification")
def status_notification(items: list[tuple[ChargeBox, pb.StatusNotificationReq]]) -> list:
    """Every connector of every box reports after a reconnect: the healthy reports all at once
    (chargers.services.connector_statuses_from)."""
    failures = connector_statuses_from(items, status_report_in, (DomainError,))
    return [failure or pb.StatusNotificationConf(connectorId=req.connectorId)
            for failure, (_, req) in zip(failures, items, strict=True)]


# FirmwareStatus (kotodian-apdu section 3) in OCPP 1.6's words (§7.25).
FIRMWARE_STATUSES = {
    pb.FW_Pending: FirmwareStatus.IDLE,
    pb.FW_Downloading: FirmwareStatus.DOWNLOADING,
    pb.FW_DownloadPaused: FirmwareStatus.DOWNLOADING,
    pb.FW_Downloaded: FirmwareStatus.DOWNLOADED,
    pb.FW_InstallScheduled: FirmwareStatus.DOWNLOADED,
    pb.FW_Installing: FirmwareStatus.INSTALLING,
    pb.FW_Installed: FirmwareStatus.INSTALLED,
    pb.FW_DownloadFailed: FirmwareStatus.DOWNLOAD_FAILED,
    pb.FW_InstallVerificationFailed: FirmwareStatus.INSTALLATION_FAILED,
    pb.FW_InstallationFailed: FirmwareStatus.INSTALLATION_FAILED,
}


@handles("FirmwareStatusNotification")
def firmware_status_notification(box: ChargeBox, req: pb.FirmwareStatusNotificationReq):
    status = FIRMWARE_STATUSES.get(req.status)
    if status is None:
        raise FieldInvalid(f"firmware status {req.status} is not a FirmwareStatus", field="status")
    firmware_status_record(box=box, status=status)
    return pb.FirmwareStatusNotificationConf()


# DiagnosticsStatus (kotodian-apdu section 3) in OCPP 1.6's words (§7.24): Accepted is the upload
# agreed to and not begun, which OCPP calls Idle.
DIAGNOSTICS_STATUSES = {
    pb.DGS_Idle: DiagnosticsStatus.IDLE,
    pb.DGS_Accepted: DiagnosticsStatus.IDLE,
    pb.DGS_Uploading: DiagnosticsStatus.UPLOADING,
    pb.DGS_Uploaded: DiagnosticsStatus.UPLOADED,
    pb.DGS_UploadFailed: DiagnosticsStatus.UPLOAD_FAILED,
}


@handles("DiagnosticsStatusNotification")
def diagnostics_status_notification(box: ChargeBox, req: pb.DiagnosticsStatusNotificationReq) -> None:
    """No reply (kotodian-apdu 1.3)."""
    status = DIAGNOSTICS_STATUSES.get(req.status)
    if status is None:
        raise FieldInvalid(f"diagnostics status {req.status} is not a DiagnosticsStatus", field="status")
    diagnostics_status_record(box=box, status=status)


@handles("DataTransfer", writes=False)
def data_transfer(box: ChargeBox, req: pb.DataTransferReq) -> pb.DataTransferConf:
    status = data_transfer_receive(box=box, vendor_id=req.vendor_id, message_id=req.message_id, data=req.data)
    accepted = status == "Accepted"
    return pb.DataTransferConf(status=pb.DataTransferConf.Accepted if accepted else pb.DataTransferConf.Rejected,
                               response=status)
