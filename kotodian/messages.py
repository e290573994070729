"""The MessageID table of kotodian-apdu 1.3 as data: which reply id answers which request id, which
requests have no reply, and which message class each id's payload carries.

Always look a reply id up here: seven replies break the "request + 0x80" rule, and four requests
have no reply at all (kotodian-apdu 1.2)."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from google.protobuf.message import Message

from kotodian.proto import charger_pb2 as pb


@dataclass(frozen=True)
class Exchange:
    """One row of the table: a request id, its payload class, and its reply id and class (None when
    the request has no reply, or when upstream defines no message type for it)."""

    request_id: int
    request: type[Message] | None
    reply_id: int | None
    reply: type[Message] | None


# kotodian-apdu 1.3, in the document's order. Directions are not part of the wire format: either side
# may send any request, and the codec does not check who sent what.
EXCHANGES: tuple[Exchange, ...] = (
    Exchange(pb.ID_BootNotificationReq, pb.BootNotificationReq, pb.ID_BootNotificationConf, pb.BootNotificationConf),
    # The reply type is named ...Resp upstream.
    Exchange(pb.ID_HeartbeatReq, pb.HeartbeatReq, pb.ID_HeartbeatConf, pb.HeartbeatResp),
    Exchange(pb.ID_ChangeConfigurationReq, pb.ChangeConfigurationReq,
             pb.ID_ChangeConfigurationConf, pb.ChangeConfigurationConf),
    Exchange(pb.ID_GetConfigurationReq, pb.GetConfigurationReq, pb.ID_GetConfigurationConf, pb.GetConfigurationConf),
    Exchange(pb.ID_RemoteControlReq, pb.RemoteControlReq, pb.ID_RemoteControlConf, pb.RemoteControlConf),
    Exchange(pb.ID_UpdateFirmwareReq, pb.UpdateFirmwareReq, pb.ID_UpdateFirmwareConf, pb.UpdateFirmwareConf),
    Exchange(pb.ID_FirmwareStatusNotificationReq, pb.FirmwareStatusNotificationReq,
             pb.ID_FirmwareStatusNotificationConf, pb.FirmwareStatusNotificationConf),
    Exchange(pb.ID_GetDiagnosticsReq, pb.GetDiagnosticsReq, pb.ID_GetDiagnosticsConf, pb.GetDiagnosticsConf),
    Exchange(pb.ID_DiagnosticsStatusNotificationReq, pb.DiagnosticsStatusNotificationReq, None, None),
    Exchange(pb.ID_DeviceRegistrationReq, pb.DeviceRegistrationReq,
             pb.ID_DeviceRegistrationConf, pb.DeviceRegistrationConf),
    Exchange(pb.ID_GetReportReq, pb.GetReportReq, pb.ID_GetReportConf, pb.GetReportConf),
    Exchange(pb.ID_GetVariablesReq, pb.GetVariablesReq, pb.ID_GetVariablesConf, pb.GetVariablesConf),
    Exchange(pb.ID_SignCertificateReq, pb.SignCertificateReq, pb.ID_SignCertificateConf, pb.SignCertificateConf),
    Exchange(pb.ID_ChangeAvailabilityReq, pb.ChangeAvailabilityReq,
             pb.ID_ChangeAvailabilityConf, pb.ChangeAvailabilityConf),
    # Both ids exist, but upstream's messages for them are commented out: decode reports them unsupported.
    Exchange(pb.ID_CustomerInformationReq, None, pb.ID_CustomerInformationConf, None),
    Exchange(pb.ID_RemoteStartTransactionReq, pb.RemoteStartTransactionReq,
             pb.ID_RemoteStartTransactionConf, pb.RemoteStartTransactionConf),
    Exchange(pb.ID_RemoteStopTransactionReq, pb.RemoteStopTransactionReq,
             pb.ID_RemoteStopTransactionConf, pb.RemoteStopTransactionConf),
    Exchange(pb.ID_StartTransactionReq, pb.StartTransactionReq, pb.ID_StartTransactionConf, pb.StartTransactionConf),
    Exchange(pb.ID_StopTransactionReq, pb.StopTransactionReq, pb.ID_StopTransactionConf, pb.StopTransactionConf),
    Exchange(pb.ID_AuthorizeReq, pb.AuthorizeReq, pb.ID_AuthorizeConf, pb.AuthorizeConf),
    Exchange(pb.ID_ReserveNowReq, pb.ReserveNowReq, pb.ID_ReserveNowConf, pb.ReserveNowConf),
    Exchange(pb.ID_CancelReservationReq, pb.CancelReservationReq,
             pb.ID_CancelReservationConf, pb.CancelReservationConf),
    # Upstream defines no Conf message for 0x9A; ours is empty (charger.proto).
    Exchange(pb.ID_UpdateIdCardCacheReq, pb.UpdateIdCardCacheReq,
             pb.ID_UpdateIdCardCacheConf, pb.UpdateIdCardCacheConf),
    Exchange(pb.ID_StatusNotificationReq, pb.StatusNotificationReq,
             pb.ID_StatusNotificationConf, pb.StatusNotificationConf),
    Exchange(pb.ID_TelemetryReq, pb.TelemetryReq, None, None),
    Exchange(pb.ID_MeterValuesReq, pb.MeterValuesReq, None, None),
    Exchange(pb.ID_ChargingInfoReq, pb.ChargingInfoReq, None, None),
    Exchange(pb.ID_TriggerMessageReq, pb.TriggerMessageReq, pb.ID_TriggerMessageConf, pb.TriggerMessageConf),
    Exchange(pb.ID_GetTransactionsReq, pb.GetTransactionsReq, pb.ID_GetTransactionsConf, pb.GetTransactionsConf),
    Exchange(pb.ID_TransactionReq, pb.TransactionReq, pb.ID_TransactionConf, pb.TransactionConf),
    Exchange(pb.ID_GetWarningReq, pb.GetWarningReq, pb.ID_GetWarningConf, pb.GetWarningConf),
    Exchange(pb.ID_WarningReq, pb.WarningReq, pb.ID_WarningConf, pb.WarningConf),
    Exchange(pb.ID_SetTariffReq, pb.SetTariffReq, pb.ID_SetTariffConf, pb.SetTariffConf),
    Exchange(pb.ID_GetBaseReportReq, pb.GetBaseReportReq, pb.ID_GetBaseReportConf, pb.GetBaseReportConf),
    Exchange(pb.ID_NotifyReportReq, pb.NotifyReportReq, pb.ID_NotifyReportConf, pb.NotifyReportConf),
    Exchange(pb.ID_SetVariablesReq, pb.SetVariablesReq, pb.ID_SetVariablesConf, pb.SetVariablesConf),
    Exchange(pb.ID_GetLogReq, pb.GetLogReq, pb.ID_GetLogConf, pb.GetLogConf),
    Exchange(pb.ID_LogStatusNotificationReq, pb.LogStatusNotificationReq,
             pb.ID_LogStatusNotificationConf, pb.LogStatusNotificationConf),
    # The next six replies (0xBA..0xBF) and SendQRCode's (0xCA) are not request + 0x80 (kotodian-apdu 1.2).
    Exchange(pb.ID_SendLocalAuthorizationListReq, pb.SendLocalAuthorizationListReq,
             pb.ID_SendLocalAuthorizationListConf, pb.SendLocalAuthorizationListConf),
    Exchange(pb.ID_DataTransferReq, pb.DataTransferReq, pb.ID_DataTransferConf, pb.DataTransferConf),
    Exchange(pb.ID_SetChargingProfileReq, pb.SetChargingProfileReq,
             pb.ID_SetChargingProfileConf, pb.SetChargingProfileConf),
    Exchange(pb.ID_ClearChargingProfileReq, pb.ClearChargingProfileReq,
             pb.ID_ClearChargingProfileConf, pb.ClearChargingProfileConf),
    # The ids are singular, the message names plural.
    Exchange(pb.ID_GetChargingProfileReq, pb.GetChargingProfilesReq,
             pb.ID_GetChargingProfileConf, pb.GetChargingProfilesConf),
    Exchange(pb.ID_ReportChargingProfileReq, pb.ReportChargingProfilesReq,
             pb.ID_ReportChargingProfileConf, pb.ReportChargingProfilesConf),
    Exchange(pb.ID_ReservationStatusUpdateReq, pb.ReservationStatusUpdateReq,
             pb.ID_ReservationStatusUpdateConf, pb.ReservationStatusUpdateConf),
    Exchange(pb.ID_InstallCertificateReq, pb.InstallCertificateReq,
             pb.ID_InstallCertificateConf, pb.InstallCertificateConf),
    Exchange(pb.ID_ClearCacheReq, pb.ClearCacheReq, pb.ID_ClearCacheConf, pb.ClearCacheConf),
    Exchange(pb.ID_SetPriceSchemeReq, pb.SetPriceSchemeReq, pb.ID_SetPriceSchemeConf, pb.SetPriceSchemeConf),
    Exchange(pb.ID_SendQRCodeReq, pb.SendQRCodeReq, pb.ID_SendQRCodeConf, pb.SendQRCodeConf),
)

#: request id -> reply id, for every request that has a reply.
REPLY_IDS = MappingProxyType({row.request_id: row.reply_id for row in EXCHANGES if row.reply_id is not None})
#: The requests that are never answered (telemetry and the diagnostics status).
NO_REPLY = frozenset(row.request_id for row in EXCHANGES if row.reply_id is None)
#: messageId -> payload class, for requests and for replies; MessageError (0xFF) answers any request.
REQUEST_CLASSES = MappingProxyType({row.request_id: row.request for row in EXCHANGES if row.request is not None})
REPLY_CLASSES = MappingProxyType({
    **{row.reply_id: row.reply for row in EXCHANGES if row.reply is not None},
    pb.ID_MessageError: pb.MessageError,
})
MESSAGE_CLASSES = MappingProxyType({**REQUEST_CLASSES, **REPLY_CLASSES})


def message_class(message_id: int) -> type[Message] | None:
    """The class of the payload that ``message_id`` carries; None for an id without one (unknown to
    v1.10.47, ID_None, or CustomerInformation)."""
    return MESSAGE_CLASSES.get(message_id)


def message_name(message_id: int) -> str:
    """The enum name of an id ("ID_HeartbeatReq"), or its hex value for an id that v1.10.47 lacks."""
    try:
        return pb.MessageID.Name(message_id)
    except ValueError:
        return f"0x{message_id:02X}" if message_id >= 0 else str(message_id)


def action_name(message_id: int) -> str:
    """The action an id belongs to, as upstream's APDU.Action() spells it: the enum name without the
    ``ID_`` prefix and the ``Req``/``Conf`` suffix ("HeartbeatReq" and "HeartbeatConf" -> "Heartbeat")."""
    name = message_name(message_id).removeprefix("ID_")
    for suffix in ("Req", "Conf"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name
