"""The domain's vocabulary: OCPP 1.6 terms, whatever protocol a box speaks (edges translate)."""

from django.db import models


class RegistrationStatus(models.TextChoices):
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class ChargePointStatus(models.TextChoices):
    """OCPP 1.6 §7.7."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class ChargePointErrorCode(models.TextChoices):
    """OCPP 1.6 §7.6."""

    CONNECTOR_LOCK_FAILURE = "ConnectorLockFailure"
    EV_COMMUNICATION_ERROR = "EVCommunicationError"
    GROUND_FAILURE = "GroundFailure"
    HIGH_TEMPERATURE = "HighTemperature"
    INTERNAL_ERROR = "InternalError"
    LOCAL_LIST_CONFLICT = "LocalListConflict"
    NO_ERROR = "NoError"
    OTHER_ERROR = "OtherError"
    OVER_CURRENT_FAILURE = "OverCurrentFailure"
    OVER_VOLTAGE = "OverVoltage"
    POWER_METER_FAILURE = "PowerMeterFailure"
    POWER_SWITCH_FAILURE = "PowerSwitchFailure"
    READER_FAILURE = "ReaderFailure"
    RESET_FAILURE = "ResetFailure"
    UNDER_VOLTAGE = "UnderVoltage"
    WEAK_SIGNAL = "WeakSignal"


class AuthorizationStatus(models.TextChoices):
    """OCPP 1.6 §7.2 (EVCHONG 4.3 uses the first three)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


class DataTransferStatus(models.TextChoices):
    """OCPP 1.6 §7.23."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    UNKNOWN_MESSAGE_ID = "UnknownMessageId"
    UNKNOWN_VENDOR_ID = "UnknownVendorId"


class Protocol(models.TextChoices):
    OCPP16 = "ocpp1.6", "OCPP 1.6J"
    EVCHONG = "evchong", "EVCHONG REST"
    KOTODIAN = "kotodian", "Kotodian MQTT"


# Boxes on these protocols hold a connection open: they are offline as soon as it closes.
CONNECTED_PROTOCOLS = frozenset({Protocol.OCPP16})


class Direction(models.TextChoices):
    IN = "in", "box → central"
    OUT = "out", "central → box"


class ReservationState(models.TextChoices):
    """Where a reservation sent to a box stands (OCPP 1.6 §5.13). 'requested' is also where one
    stays whose ReserveNow went unanswered: the box may hold it or not, and it expires either way."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    USED = "used"
    EXPIRED = "expired"


class AlarmLevel(models.TextChoices):
    """How grave an alarm is, in syslog's words (RFC 5424), which Kotodian's WarningLevel follows."""

    CRITICAL = "critical"
    ALERT = "alert"
    WARNING = "warning"
    NOTICE = "notice"
    INFO = "info"
