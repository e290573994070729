"""What a box's answer to a command changes in the domain: one small function per action, found by
the action's name, turning the OCPP payload into a domain service call.

``command_settle`` runs ``command_effect_apply`` in the transaction that records the
answer, after the conditional UPDATE that lets an outcome be recorded once; so an effect runs once
per command, and every effect is written so that running it again changes nothing more. Effects run
for accepted commands; a ReserveNow's refusal (Occupied, Faulted, ...) settles its reservation too.
A timed-out or failed command changes nothing: whether the box acted is unknown (docs/adr/0007).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from chargers.configuration import KeyValue, configuration_change, configuration_report
from chargers.local_lists import LocalListUpdate, local_list_apply, local_list_version_record
from chargers.reservations import reservation_answered, reservation_cancel
from chargers.services import IdTagInfo
from commands.models import Command, CommandState
from core.moments import moment_parse
from firmware.services import firmware_update_open
from smartcharging.services import charging_profile_install, charging_profiles_clear

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Effect:
    run: Callable[[Command], None]
    also_when_rejected: bool


EFFECTS: dict[str, Effect] = {}


def effect(action: str, *, also_when_rejected: bool = False):
    def register(run):
        EFFECTS[action] = Effect(run, also_when_rejected)
        return run

    return register


def command_effect_apply(command: Command) -> None:
    """Apply what the box's answer to ``command`` means, if anything."""
    found = EFFECTS.get(command.action)
    if found is None:
        return
    answered_no = command.state == CommandState.REJECTED and command.response is not None
    if command.state != CommandState.ACCEPTED and not (found.also_when_rejected and answered_no):
        return
    try:
        with transaction.atomic():  # a savepoint: a failed effect leaves no half of itself behind
            found.run(command)
    except Exception:
        # The box has acted, so its answer is recorded and its waiters woken all the same; only our
        # mirror of the box missed the change. Logged with everything needed to redo it by hand.
        log.exception("command %s: %s accepted by box %s, but its effect failed; payload %s",
                      command.pk, command.action, command.box_id, command.payload)


def moment_in(value: str | None, field: str = "") -> datetime | None:
    return None if value is None else moment_parse(value, field)


def id_tag_info_in(info: dict | None) -> IdTagInfo | None:
    if info is None:
        return None
    return IdTagInfo(info["status"], moment_in(info.get("expiryDate"), "expiryDate"), info.get("parentIdTag"))


@effect("SendLocalList")
def send_local_list(command: Command) -> None:
    payload = command.payload
    local_list_apply(
        box=command.box,
        version=payload["listVersion"],
        update_type=payload["updateType"],
        updates=[LocalListUpdate(entry["idTag"], id_tag_info_in(entry.get("idTagInfo")))
                 for entry in payload.get("localAuthorizationList", [])],
    )


@effect("GetLocalListVersion")
def get_local_list_version(command: Command) -> None:
    local_list_version_record(box=command.box, version=command.response["listVersion"])


@effect("ReserveNow", also_when_rejected=True)
def reserve_now(command: Command) -> None:
    reservation_answered(box=command.box, reservation_id=command.payload["reservationId"],
                         status=command.response["status"])


@effect("CancelReservation")
def cancel_reservation(command: Command) -> None:
    reservation_cancel(box=command.box, reservation_id=command.payload["reservationId"])


@effect("SetChargingProfile")
def set_charging_profile(command: Command) -> None:
    _profile_install(box=command.box, connector_id=command.payload["connectorId"],
                     profile=command.payload["csChargingProfiles"])


def remote_start_profile_keep(*, command_id: int, box, connector_id: int, transaction_id: int, profile: dict) -> None:
    """The TxProfile of an accepted RemoteStartTransaction (OCPP 1.6 §5.11), kept with the session the
    box started for it, once that StartTransaction has arrived: only then are its connector and
    session known. It ends with the session, as a TxProfile set with SetChargingProfile does."""
    try:
        with transaction.atomic():
            _profile_install(box=box, connector_id=connector_id, profile=profile, transaction_id=transaction_id)
    except Exception:
        # The session is recorded all the same: only our mirror of the box's profile is missing.
        log.exception("command %s: the TxProfile of remote start for session %s could not be kept: %s",
                      command_id, transaction_id, profile)


def _profile_install(*, box, connector_id: int, profile: dict, transaction_id: int | None = None) -> None:
    charging_profile_install(
        box=box,
        connector_id=connector_id,
        charging_profile_id=profile["chargingProfileId"],
        transaction_id=transaction_id or profile.get("transactionId"),
        stack_level=profile["stackLevel"],
        purpose=profile["chargingProfilePurpose"],
        kind=profile["chargingProfileKind"],
        recurrency=profile.get("recurrencyKind", ""),
        valid_from=moment_in(profile.get("validFrom"), "validFrom"),
        valid_to=moment_in(profile.get("validTo"), "validTo"),
        schedule=profile["chargingSchedule"],
    )


@effect("ClearChargingProfile")
def clear_charging_profile(command: Command) -> None:
    payload = command.payload
    charging_profiles_clear(
        box=command.box,
        charging_profile_id=payload.get("id"),
        connector_id=payload.get("connectorId"),
        purpose=payload.get("chargingProfilePurpose"),
        stack_level=payload.get("stackLevel"),
    )


@effect("UpdateFirmware")
def update_firmware(command: Command) -> None:
    firmware_update_open(command=command)


@effect("GetConfiguration")
def get_configuration(command: Command) -> None:
    answer = command.response
    configuration_report(
        box=command.box,
        keys=[KeyValue(entry["key"], entry.get("value"), entry.get("readonly", False))
              for entry in answer.get("configurationKey", [])],
        unknown=answer.get("unknownKey", []),
    )


@effect("ChangeConfiguration")
def change_configuration(command: Command) -> None:
    configuration_change(box=command.box, key=command.payload["key"], value=command.payload["value"],
                         reboot_required=command.response.get("status") == "RebootRequired")
