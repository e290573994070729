"""The rest of what a box may send (kotodian-apdu 1.3, 2.13, 2.16, 2.19, 2.22): reservation and log
upload statuses onto the domain, reports that are kept in the box's journal, and a clear refusal of
what the central system does not do. The requests of the table that only the central system sends
are refused by the edge (kotodian.edge) with EC_NotSupported, naming them as such."""

from __future__ import annotations

from chargers.models import ChargeBox
from chargers.reservations import reservation_ended_by_box
from firmware.choices import DiagnosticsStatus
from firmware.services import diagnostics_status_record
from kotodian.handlers import FieldInvalid, handles
from kotodian.proto import charger_pb2 as pb

# The requests of the MessageID table that go from the central system to boxes (kotodian-apdu 1.3),
# by action name: a box that sends one is told that we take no such message.
SENT_BY_THE_SYSTEM = frozenset({
    "ChangeConfiguration", "GetConfiguration", "RemoteControl", "UpdateFirmware", "GetDiagnostics", "GetReport",
    "GetVariables", "ChangeAvailability", "RemoteStartTransaction", "RemoteStopTransaction", "ReserveNow",
    "CancelReservation", "UpdateIdCardCache", "TriggerMessage", "GetTransactions", "GetWarning", "GetBaseReport",
    "SetVariables", "GetLog", "SendLocalAuthorizationList", "SetChargingProfile", "ClearChargingProfile",
    "GetChargingProfile", "InstallCertificate", "ClearCache", "SendQRCode",
})

RESERVATION_ENDS = {pb.Expired: True, pb.Removed: False}


@handles("ReservationStatusUpdate")
def reservation_status_update(box: ChargeBox, req: pb.ReservationStatusUpdateReq) -> pb.ReservationStatusUpdateConf:
    """A reservation the box let expire or removed. One we do not know (another system's, or ended
    here already) is acknowledged all the same: there is nothing the box could do about it."""
    expired = RESERVATION_ENDS.get(req.status)
    if expired is None:
        raise FieldInvalid(f"status {req.status} is not a ReservationStatusUpdate", field="status")
    if 0 < req.id < 2**31:  # our reservation ids are PostgreSQL integers
        reservation_ended_by_box(box=box, reservation_id=req.id, expired=expired)
    return pb.ReservationStatusUpdateConf()


# A log upload (GetLog, OCPP 2.0.1's successor of GetDiagnostics) in the words of a diagnostics upload.
LOG_STATUSES = {
    pb.LogStatusNotificationReq.Idle: DiagnosticsStatus.IDLE,
    pb.LogStatusNotificationReq.Uploading: DiagnosticsStatus.UPLOADING,
    pb.LogStatusNotificationReq.Uploaded: DiagnosticsStatus.UPLOADED,
    pb.LogStatusNotificationReq.UploadFailure: DiagnosticsStatus.UPLOAD_FAILED,
}


@handles("LogStatusNotification")
def log_status_notification(box: ChargeBox, req: pb.LogStatusNotificationReq) -> pb.LogStatusNotificationConf:
    status = LOG_STATUSES.get(req.status)
    if status is None:
        raise FieldInvalid(f"status {req.status} is not an UploadLogStatusEnumType", field="status")
    diagnostics_status_record(box=box, status=status)
    return pb.LogStatusNotificationConf()


@handles("NotifyReport", writes=False)
def notify_report(box: ChargeBox, req: pb.NotifyReportReq) -> pb.NotifyReportConf:
    """A part of a report the box was asked for (GetBaseReport): kept, decoded, in its journal."""
    return pb.NotifyReportConf()


@handles("ReportChargingProfile", writes=False)
def report_charging_profiles(box: ChargeBox, req: pb.ReportChargingProfilesReq) -> pb.ReportChargingProfilesConf:
    """The profiles the box holds (an answer to GetChargingProfiles): kept, decoded, in its journal."""
    return pb.ReportChargingProfilesConf()


@handles("SignCertificate", writes=False)
def sign_certificate(box: ChargeBox, req: pb.SignCertificateReq) -> pb.SignCertificateConf:
    """The central system signs no certificates (it runs no certificate authority): Rejected."""
    return pb.SignCertificateConf(status=pb.SignCertificateConf.Rejected)
