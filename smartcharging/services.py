"""Charging profiles as the boxes hold them (OCPP 1.6 §3.13): installed and cleared when a box
accepts SetChargingProfile / ClearChargingProfile (commands.effects), and TxProfiles ended with
their session (transactions.services.transaction_stop)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from chargers.models import ChargeBox
from chargers.services import active_transaction_id
from smartcharging.choices import ChargingProfilePurpose
from smartcharging.models import ChargingProfile


def charging_profile_install(
    *,
    box: ChargeBox,
    connector_id: int,
    charging_profile_id: int,
    stack_level: int,
    purpose: str,
    kind: str,
    schedule: dict,
    recurrency: str = "",
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    transaction_id: int | None = None,
) -> ChargingProfile:
    """A profile the box accepted. It replaces the box's profile with the same chargingProfileId
    (on any connector) and the one with the same stackLevel and purpose on the same connector
    (OCPP 1.6 §3.13.2, §5.16). Installing the same profile twice leaves one row."""
    if purpose == ChargingProfilePurpose.TX and transaction_id is None:
        # A TxProfile without a transactionId is for the session running on its connector: the
        # box refuses one when none runs (OCPP 1.6 §5.16), so this one has a session to end with.
        transaction_id = active_transaction_id(box=box, connector_id=connector_id)
    with transaction.atomic():
        ChargingProfile.objects.filter(box=box).filter(
            Q(charging_profile_id=charging_profile_id)
            | Q(connector_id=connector_id, purpose=purpose, stack_level=stack_level)
        ).delete()
        return ChargingProfile.objects.create(
            box=box, connector_id=connector_id, charging_profile_id=charging_profile_id,
            transaction_id=transaction_id, stack_level=stack_level, purpose=purpose, kind=kind,
            recurrency=recurrency, valid_from=valid_from, valid_to=valid_to, schedule=schedule,
        )


def charging_profiles_clear(
    *,
    box: ChargeBox,
    charging_profile_id: int | None = None,
    connector_id: int | None = None,
    purpose: str | None = None,
    stack_level: int | None = None,
) -> int:
    """Profiles the box cleared (OCPP 1.6 §5.5): the one with ``charging_profile_id`` when it is
    given (the other criteria are then ignored), otherwise every profile matching all the
    criteria given; no criteria at all clears every profile of the box. Returns how many went."""
    profiles = ChargingProfile.objects.filter(box=box)
    if charging_profile_id is not None:
        profiles = profiles.filter(charging_profile_id=charging_profile_id)
    else:
        criteria = {"connector_id": connector_id, "purpose": purpose, "stack_level": stack_level}
        profiles = profiles.filter(**{name: value for name, value in criteria.items() if value is not None})
    return profiles.delete()[0]


def charging_profiles_end_with_session(*, box: ChargeBox, transaction_id: int) -> int:
    """A session stopped: its TxProfiles are gone from the box too (OCPP 1.6 §3.13.1)."""
    return ChargingProfile.objects.filter(
        box=box, transaction_id=transaction_id, purpose=ChargingProfilePurpose.TX
    ).delete()[0]
