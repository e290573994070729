"""EVCHONG's words (EVCHONG 4.8, 4.9, 4.14) and their OCPP 1.6 meaning in the domain."""

from chargers.choices import ChargePointErrorCode, ChargePointStatus
from firmware.choices import FirmwareStatus

# EVCHONG 4.9 speaks OCPP 1.5's statuses; gateways that forward OCPP 1.6 boxes send 1.6 words.
STATUSES = ["Available", "Occupied", "Reserved", "Unavailable", "Faulted"] + [
    s for s in ChargePointStatus.values if s not in ("Available", "Reserved", "Unavailable", "Faulted")
]

# EVCHONG 4.8 is OCPP 1.5's list: Mode3Error became EVCommunicationError in OCPP 1.6.
ERROR_CODES = sorted(set(ChargePointErrorCode.values) | {"Mode3Error"})
_ERROR_CODE_TO_OCPP = {"Mode3Error": ChargePointErrorCode.EV_COMMUNICATION_ERROR}

FIRMWARE_STATUSES = FirmwareStatus.values


def status_to_ocpp(word: str, *, in_session: bool) -> str:
    """"Occupied" (OCPP 1.5) is Charging during a session and Preparing otherwise (OCPP 1.6 §4.9)."""
    if word == "Occupied":
        return ChargePointStatus.CHARGING if in_session else ChargePointStatus.PREPARING
    return word


def error_code_to_ocpp(word: str) -> str:
    return _ERROR_CODE_TO_OCPP.get(word, word)
