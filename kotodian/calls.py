"""Every call the central system makes to a Kotodian box (DESIGN 3, docs/adr/0020): for each action
of the operations API, how its payload is checked and turned into the Kotodian request, and how the
box's Conf reads back as the command's response.

Where a Kotodian request means what an OCPP 1.6 call means, the action has the OCPP name and takes
the OCPP payload, checked against the same schema first (ocpp16.delivery.command_check): the
domain's effects (commands.effects) read a command's payload and response in that vocabulary, so a
Kotodian box's answer changes reservations, local lists and charging profiles exactly as an OCPP
box's does. What a Kotodian box cannot carry (a parentIdTag, a fractional limit) is refused, naming
the field, rather than dropped. The rest have the Kotodian names: UpdateIdCardCache, SetTariff,
GetTransactions, GetWarning, GetLog.

A response always has ``status`` in OCPP's words (a Conf's status 0 is Accepted) and
``kotodianStatus``, the number the box sent; a Conf with no status at all is the box's yes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from google.protobuf.message import Message as ProtobufMessage

from commands.edges import CommandInvalid
from core.errors import DomainError
from core.moments import moment_parse
from kotodian.messages import REPLY_IDS
from kotodian.proto import charger_pb2 as pb
from ocpp16.delivery import command_check as ocpp_command_check

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

REMOTE_START, REMOTE_STOP, RESET, UPDATE_FIRMWARE = (
    "RemoteStartTransaction", "RemoteStopTransaction", "Reset", "UpdateFirmware")
GET_DIAGNOSTICS, GET_LOG, SET_TARIFF = "GetDiagnostics", "GetLog", "SetTariff"


def invalid(description: str) -> CommandInvalid:
    return CommandInvalid(description, field="payload", code="PropertyConstraintViolation")


def integer(payload: dict, name: str, *, required: bool = False, low: int = 0, high: int = INT64_MAX,
            where: str = "") -> int | None:
    """``payload[name]``, an integer in the range the Kotodian field holds; ``where`` prefixes the
    name in the message (the path of a nested object)."""
    value = payload.get(name)
    if value is None:
        if required:
            raise invalid(f"{where}{name} is required")
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise invalid(f"{where}{name} must be an integer from {low} to {high}")
    return value


def text(payload: dict, name: str, *, required: bool = False, max_length: int = 512) -> str | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise invalid(f"{name} is required")
        return None
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise invalid(f"{name} must be a string of 1 to {max_length} characters")
    return value


def choice(payload: dict, name: str, choices: dict, *, required: bool = False):
    value = payload.get(name)
    if value is None:
        if required:
            raise invalid(f"{name} is required")
        return None
    if value not in choices:
        raise invalid(f"{name} must be one of {', '.join(choices)}")
    return choices[value]


def seconds_of(value: str, name: str, *, high: int = INT64_MAX) -> int:
    """Unix seconds of an RFC 3339 date-time, the Kotodian way of saying a moment."""
    try:
        seconds = int(moment_parse(value, name).timestamp())
    except DomainError:
        raise invalid(f"{name} {value!r} is not a date-time") from None
    if not 0 <= seconds <= high:
        raise invalid(f"{name} {value!r} is out of range")
    return seconds


def moment(payload: dict, name: str, *, required: bool = False, high: int = INT64_MAX) -> int:
    value = text(payload, name, required=required)
    return 0 if value is None else seconds_of(value, name, high=high)


def flag(payload: dict, name: str) -> bool:
    value = payload.get(name, False)
    if not isinstance(value, bool):
        raise invalid(f"{name} must be true or false")
    return value


def only(payload: dict, names: set[str], where: str = "") -> None:
    if extra := set(payload) - names:
        raise invalid(f"a Kotodian box takes no {', '.join(where + name for name in sorted(extra))}")


def ocpp_shaped(action: str, payload: dict) -> None:
    """The OCPP 1.6 schema of ``action``: the shape the domain's effects read."""
    ocpp_command_check(action, payload)


def connector_text(connector: int | None) -> str:
    return "" if connector is None else str(connector)


# -- the requests ---------------------------------------------------------------------------------

def remote_start(payload: dict) -> ProtobufMessage:
    only(payload, {"connectorId", "idTag"})
    connector = integer(payload, "connectorId", low=1, high=INT32_MAX)
    id_tag = text(payload, "idTag", required=True, max_length=20)
    return pb.RemoteStartTransactionReq(connectorId=connector_text(connector), IdData=pb.IdToken(id=id_tag))


def remote_stop(payload: dict) -> ProtobufMessage:
    only(payload, {"transactionId"})
    return pb.RemoteStopTransactionReq(transactionId=str(integer(payload, "transactionId", required=True)))


def reset(payload: dict) -> ProtobufMessage:
    only(payload, {"type"})
    kind = choice(payload, "type", {"Hard": "0", "Soft": "1"}, required=True)
    return pb.RemoteControlReq(function="Reset", parameter=kind)


def update_firmware(payload: dict) -> ProtobufMessage:
    only(payload, {"location", "retrieveDate", "retries", "retryInterval"})
    return pb.UpdateFirmwareReq(
        url=text(payload, "location", required=True),
        # UpdateFirmwareReq.retryDate is an int32.
        retryDate=moment(payload, "retrieveDate", required=True, high=INT32_MAX),
        retries=integer(payload, "retries", high=INT32_MAX) or 0,
        retryInterval=integer(payload, "retryInterval", high=INT32_MAX) or 0,
    )


def change_configuration(payload: dict) -> ProtobufMessage:
    ocpp_shaped("ChangeConfiguration", payload)
    return pb.ChangeConfigurationReq(configurationKey=[pb.KeyValue(key=payload["key"], value=payload["value"])])


def get_configuration(payload: dict) -> ProtobufMessage:
    ocpp_shaped("GetConfiguration", payload)
    return pb.GetConfigurationReq(keys=[pb.KeyValue(key=key) for key in payload.get("key", [])])


# OCPP 1.6 TriggerMessage's requestedMessage, as the Kotodian request the box should send.
TRIGGERED = {
    "BootNotification": pb.ID_BootNotificationReq, "DiagnosticsStatusNotification": pb.ID_DiagnosticsStatusNotificationReq,
    "FirmwareStatusNotification": pb.ID_FirmwareStatusNotificationReq, "Heartbeat": pb.ID_HeartbeatReq,
    "MeterValues": pb.ID_MeterValuesReq, "StatusNotification": pb.ID_StatusNotificationReq,
}


def trigger_message(payload: dict) -> ProtobufMessage:
    ocpp_shaped("TriggerMessage", payload)
    return pb.TriggerMessageReq(request=TRIGGERED[payload["requestedMessage"]],
                                connectorId=connector_text(integer(payload, "connectorId", high=INT32_MAX)))


def change_availability(payload: dict) -> ProtobufMessage:
    ocpp_shaped("ChangeAvailability", payload)
    return pb.ChangeAvailabilityReq(enabled=payload["type"] == "Operative",
                                    connectorId=str(integer(payload, "connectorId", high=INT32_MAX)))


def reserve_now(payload: dict) -> ProtobufMessage:
    ocpp_shaped("ReserveNow", payload)
    if "parentIdTag" in payload:
        raise invalid("a Kotodian box takes no parentIdTag: its reservations hold one id tag")
    # Ours to give (docs/adr/0007): one the caller chose that cannot be a row's id is replaced.
    chosen = payload.get("reservationId", 0)
    return pb.ReserveNowReq(
        id=chosen if chosen > 0 else 0, expiry_date_time=seconds_of(payload["expiryDate"], "expiryDate"),
        connector_id=str(integer(payload, "connectorId", high=INT32_MAX)), idToken=pb.IdToken(id=payload["idTag"]),
    )


def cancel_reservation(payload: dict) -> ProtobufMessage:
    ocpp_shaped("CancelReservation", payload)
    return pb.CancelReservationReq(id=payload["reservationId"])


AUTHORIZATION = {"Accepted": pb.AS_Accepted, "Blocked": pb.AS_Blocked, "Expired": pb.AS_Expired,
                 "Invalid": pb.AS_Invalid, "ConcurrentTx": pb.AS_ConcurrentTx}


def card(entry: dict, where: str) -> pb.IdToken:
    """An id tag and what we say of it, as a Kotodian IdToken. A box's list holds no parent id tag,
    and cannot say "remove" (an IdToken without a status reads as AS_Accepted)."""
    info = entry.get("idTagInfo")
    if info is None:
        raise invalid(f"{where}.idTagInfo is required: a Kotodian box's list cannot remove an id tag")
    if not isinstance(info, dict):
        raise invalid(f"{where}.idTagInfo must be an object")
    only(info, {"status", "expiryDate"}, f"{where}.idTagInfo.")
    return pb.IdToken(
        id=text(entry, "idTag", required=True, max_length=20),
        status=choice(info, "status", AUTHORIZATION, required=True),
        expiryDate=moment(info, "expiryDate", high=INT32_MAX),  # IdToken.expiryDate is an int32
    )


def send_local_list(payload: dict) -> ProtobufMessage:
    ocpp_shaped("SendLocalList", payload)
    integer(payload, "listVersion", low=-INT32_MAX - 1, high=INT32_MAX)  # an int32 there
    cards = [card(entry, f"localAuthorizationList[{n}]")
             for n, entry in enumerate(payload.get("localAuthorizationList", []))]
    return pb.SendLocalAuthorizationListReq(
        version_number=payload["listVersion"],
        update_type=pb.SendLocalAuthorizationListReq.Full if payload["updateType"] == "Full"
        else pb.SendLocalAuthorizationListReq.Differential,
        local_authorization_list=[pb.AuthorizationData(idToken=token) for token in cards],
    )


def update_id_card_cache(payload: dict) -> ProtobufMessage:
    """{"idTags": [{"idTag", "idTagInfo": {"status", "expiryDate"?}}, ...]}: entries as SendLocalList's."""
    only(payload, {"idTags"})
    entries = payload.get("idTags")
    if not isinstance(entries, list) or not entries:
        raise invalid("idTags must be a list of at least one {idTag, idTagInfo}")
    for n, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise invalid(f"idTags[{n}] must be an object")
        only(entry, {"idTag", "idTagInfo"}, f"idTags[{n}].")
    return pb.UpdateIdCardCacheReq(cardinfo=[card(entry, f"idTags[{n}]") for n, entry in enumerate(entries)])


def clear_cache(payload: dict) -> ProtobufMessage:
    ocpp_shaped("ClearCache", payload)
    return pb.ClearCacheReq()


def set_tariff(payload: dict) -> ProtobufMessage:
    """{"tariff"?: code, "test"?: bool}. The prices are the system's: kotodian.tariffs fills them in
    at delivery from the tariff named, or the one that applies to the box."""
    only(payload, {"tariff", "test"})
    text(payload, "tariff", max_length=40)
    return pb.SetTariffReq(test=flag(payload, "test"))


# GetTransactionsReq.level (kotodian-apdu 2.11).
LEVELS = {"Current": 0, "Offline": 1, "All": 2}


def get_transactions(payload: dict) -> ProtobufMessage:
    only(payload, {"connectorId", "level", "startTime", "endTime"})
    return pb.GetTransactionsReq(
        connectorId=connector_text(integer(payload, "connectorId", high=INT32_MAX)),
        level=choice(payload, "level", LEVELS) or 0, startTime=moment(payload, "startTime"),
        endTime=moment(payload, "endTime", high=INT32_MAX),  # an int32 upstream
    )


WARNING_LEVELS = {"Critical": pb.WL_Critical, "Alert": pb.WL_Alert, "Warning": pb.WL_Warning,
                  "Notice": pb.WL_Notice, "Info": pb.WL_Info, "Hardware": pb.WL_Hardware, "System": pb.WL_SYSTEM}


def get_warning(payload: dict) -> ProtobufMessage:
    only(payload, {"level", "startTime", "endTime"})
    return pb.GetWarningReq(level=choice(payload, "level", WARNING_LEVELS) or 0, startTime=moment(payload, "startTime"),
                            endTime=moment(payload, "endTime", high=INT32_MAX))


# A placeholder for the schema's check only: the location a Kotodian box uploads to is the system's
# to give (commands.services fills it in from firmware's diagnostics uploads).
LOCATION_GIVEN = "ftp://location.invalid/"


def get_diagnostics(payload: dict) -> ProtobufMessage:
    ocpp_shaped(GET_DIAGNOSTICS, {"location": LOCATION_GIVEN, **payload})
    return pb.GetDiagnosticsReq(
        url=payload.get("location", ""), retries=integer(payload, "retries", high=INT32_MAX) or 0,
        retryInterval=integer(payload, "retryInterval", high=INT32_MAX) or 0,
        startTime=moment(payload, "startTime"), endTime=moment(payload, "stopTime"),
    )


LOG_TYPES = {"DiagnosticsLog": pb.GetLogReq.DiagnosticsLog, "SecurityLog": pb.GetLogReq.SecurityLog}


def get_log(payload: dict) -> ProtobufMessage:
    """{"logType", "requestId"?, "retries"?, "retryInterval"?, "log"?: {"remoteLocation"?,
    "oldestTimestamp"?, "latestTimestamp"?}}, as OCPP's GetLog (security whitepaper) says it."""
    only(payload, {"logType", "requestId", "retries", "retryInterval", "log"})
    log = payload.get("log", {})
    if not isinstance(log, dict):
        raise invalid("log must be an object")
    only(log, {"remoteLocation", "oldestTimestamp", "latestTimestamp"}, "log.")
    return pb.GetLogReq(
        logType=choice(payload, "logType", LOG_TYPES, required=True), request_id=integer(payload, "requestId") or 0,
        retries=integer(payload, "retries", high=INT32_MAX) or 0,
        retry_interval=integer(payload, "retryInterval", high=INT32_MAX) or 0,
        log=pb.GetLogReq.LogParametersType(
            remote_location=text(log, "remoteLocation") or "", start=moment(log, "oldestTimestamp"),
            end=moment(log, "latestTimestamp")),
    )


RATE_UNITS = {"A": pb.A, "W": pb.W}
# OCPP 1.6 ChargingProfilePurposeType as Kotodian's ChargingProfile.Purpose.
PURPOSES = {"ChargePointMaxProfile": pb.ChargingProfile.ChargingStationMaxProfile,
            "TxDefaultProfile": pb.ChargingProfile.TxDefaultProfile, "TxProfile": pb.ChargingProfile.TxProfile}


def schedule_of(schedule: dict) -> pb.ChargingSchedule:
    """OCPP periods (each from its startPeriod to the next one's, the last to the schedule's
    duration, if any) as Kotodian's from/to periods; limits are int32 there."""
    periods = schedule["chargingSchedulePeriod"]
    integer(schedule, "duration", where="csChargingProfiles.chargingSchedule.")
    out = []
    for n, period in enumerate(periods):
        integer(period, "startPeriod", where=f"csChargingProfiles.chargingSchedule.chargingSchedulePeriod[{n}].")
        limit = Decimal(str(period["limit"]))
        if limit != limit.to_integral_value() or not 0 <= limit <= INT32_MAX:
            raise invalid(f"csChargingProfiles.chargingSchedule.chargingSchedulePeriod[{n}].limit must be a whole "
                          f"number for a Kotodian box")
        end = periods[n + 1]["startPeriod"] if n + 1 < len(periods) else schedule.get("duration", 0)
        out.append(pb.ChargingSchedule.PeriodType(**{"from": period["startPeriod"], "to": end, "limit": int(limit)}))
    return pb.ChargingSchedule(chargingRateUnit=RATE_UNITS[schedule["chargingRateUnit"]], chargingSchedulePeriod=out)


def set_charging_profile(payload: dict) -> ProtobufMessage:
    ocpp_shaped("SetChargingProfile", payload)
    profile = payload["csChargingProfiles"]
    integer(profile, "chargingProfileId", where="csChargingProfiles.")  # a uint64 there
    schedule = profile["chargingSchedule"]
    transaction_id = profile.get("transactionId")
    connector = integer(payload, "connectorId", high=INT32_MAX)
    return pb.SetChargingProfileReq(connectorId=str(connector), chargingProfile=pb.ChargingProfile(
        id=profile["chargingProfileId"], validFrom=profile.get("validFrom", ""), validTo=profile.get("validTo", ""),
        transactionID="" if transaction_id is None else str(transaction_id),
        startTime=schedule.get("startSchedule", ""), chargingSchedule=[schedule_of(schedule)],
    ))


def clear_charging_profile(payload: dict) -> ProtobufMessage:
    ocpp_shaped("ClearChargingProfile", payload)
    if "connectorId" in payload:
        raise invalid("a Kotodian box takes no connectorId in ClearChargingProfile: it clears by id or purpose")
    integer(payload, "id")  # a uint64 there
    integer(payload, "stackLevel", high=INT32_MAX)
    request = pb.ClearChargingProfileReq(id=payload.get("id", 0))
    if "chargingProfilePurpose" in payload or "stackLevel" in payload:
        request.clearChargingProfile.CopyFrom(pb.ClearChargingProfile(
            purpose=PURPOSES.get(payload.get("chargingProfilePurpose"), 0), stackLevel=payload.get("stackLevel", 0)))
    return request


def data_transfer(payload: dict) -> ProtobufMessage:
    ocpp_shaped("DataTransfer", payload)
    return pb.DataTransferReq(vendor_id=payload["vendorId"], message_id=payload.get("messageId", ""),
                              data=payload.get("data", ""))


# -- the answers ----------------------------------------------------------------------------------

def status_of(conf: ProtobufMessage) -> dict:
    """A Conf's status in OCPP's words: its enum's name without the prefix (CFS_RebootRequired is
    RebootRequired), for a plain int32 status Accepted when 0 (DESIGN 3), Rejected otherwise."""
    field = conf.DESCRIPTOR.fields_by_name.get("status")
    if field is None:
        return {"status": "Accepted"}  # a Conf with nothing to say but that the box took the call
    value = int(conf.status)
    if value == 0:
        name = "Accepted"
    elif field.enum_type is not None and value in field.enum_type.values_by_number:
        name = field.enum_type.values_by_number[value].name
        prefix, _, rest = name.partition("_")
        name = rest if rest and prefix.isupper() else name
    else:
        name = "Rejected"
    return {"status": name, "kotodianStatus": value}


def configuration_answer(conf: pb.GetConfigurationConf) -> dict:
    """As OCPP's GetConfiguration.conf; a key the box does not know comes back with an empty value
    (kotodian-apdu 2.16)."""
    known = [{"key": kv.key, "readonly": kv.readonly, "value": kv.value} for kv in conf.values if kv.value]
    return {**status_of(conf), "configurationKey": known,
            "unknownKey": [kv.key for kv in conf.values if not kv.value]}


def diagnostics_answer(conf: pb.GetDiagnosticsConf) -> dict:
    return {**status_of(conf), **({"fileName": conf.filename} if conf.filename else {})}


def log_answer(conf: pb.GetLogConf) -> dict:
    return {**status_of(conf), **({"filename": conf.fileName} if conf.fileName else {})}


def count_answer(conf) -> dict:
    """GetTransactionsConf, GetWarningConf: how many records the box will send (as TransactionReq,
    WarningReq, which the inbound handlers take)."""
    return {**status_of(conf), "totalCount": conf.totalCount}


def data_transfer_answer(conf: pb.DataTransferConf) -> dict:
    """As OCPP's DataTransfer.conf: the box's ``response`` is its ``data``."""
    return {**status_of(conf), **({"data": conf.response} if conf.response else {})}


@dataclass(frozen=True)
class Call:
    request_id: int
    build: Callable[[dict], ProtobufMessage]  # checks the payload (CommandInvalid) and makes the request
    answer: Callable[[ProtobufMessage], dict] = status_of


CALLS: dict[str, Call] = {
    REMOTE_START: Call(pb.ID_RemoteStartTransactionReq, remote_start),
    REMOTE_STOP: Call(pb.ID_RemoteStopTransactionReq, remote_stop),
    RESET: Call(pb.ID_RemoteControlReq, reset),
    UPDATE_FIRMWARE: Call(pb.ID_UpdateFirmwareReq, update_firmware),
    "ChangeConfiguration": Call(pb.ID_ChangeConfigurationReq, change_configuration),
    "GetConfiguration": Call(pb.ID_GetConfigurationReq, get_configuration, configuration_answer),
    "TriggerMessage": Call(pb.ID_TriggerMessageReq, trigger_message),
    "ChangeAvailability": Call(pb.ID_ChangeAvailabilityReq, change_availability),
    "ReserveNow": Call(pb.ID_ReserveNowReq, reserve_now),
    "CancelReservation": Call(pb.ID_CancelReservationReq, cancel_reservation),
    "SendLocalList": Call(pb.ID_SendLocalAuthorizationListReq, send_local_list),
    "UpdateIdCardCache": Call(pb.ID_UpdateIdCardCacheReq, update_id_card_cache),
    "ClearCache": Call(pb.ID_ClearCacheReq, clear_cache),
    SET_TARIFF: Call(pb.ID_SetTariffReq, set_tariff),
    "GetTransactions": Call(pb.ID_GetTransactionsReq, get_transactions, count_answer),
    "GetWarning": Call(pb.ID_GetWarningReq, get_warning, count_answer),
    GET_DIAGNOSTICS: Call(pb.ID_GetDiagnosticsReq, get_diagnostics, diagnostics_answer),
    GET_LOG: Call(pb.ID_GetLogReq, get_log, log_answer),
    "SetChargingProfile": Call(pb.ID_SetChargingProfileReq, set_charging_profile),
    "ClearChargingProfile": Call(pb.ID_ClearChargingProfileReq, clear_charging_profile),
    "DataTransfer": Call(pb.ID_DataTransferReq, data_transfer, data_transfer_answer),
}
# A Conf's messageId -> how it reads as a response (the irregular reply ids from the table).
ANSWERS: dict[int, Callable[[ProtobufMessage], dict]] = {REPLY_IDS[call.request_id]: call.answer
                                                         for call in CALLS.values()}


def request_of(action: str, payload: dict) -> tuple[int, ProtobufMessage]:
    """(messageId, request) for a command; CommandInvalid for an action or payload it cannot carry."""
    call = CALLS.get(action)
    if call is None:
        raise CommandInvalid(f"{action!r} is not a call the central system makes to a Kotodian box",
                             field="action", code="NotSupported")
    if not isinstance(payload, dict):
        raise invalid("the payload must be an object")
    try:
        return call.request_id, call.build(payload)
    except (ValueError, TypeError) as problem:  # protobuf's own range and type checks, the last word
        raise invalid(f"a value the Kotodian {action} request cannot carry: {problem}") from None


def answer_of(message_id: int, conf: ProtobufMessage) -> dict:
    """The response a Conf gives its command."""
    return ANSWERS.get(message_id, status_of)(conf)
