"""Driving firmware campaigns (firmware.campaigns holds their rules): each run of the beat task
follows the boxes updating to their end, then starts as many more as the campaign's limit and its
maintenance window allow, each an UpdateFirmware command through ``command_issue``, whatever the
box's protocol (the edge translates), so a campaign's box is followed like any other update."""

from __future__ import annotations

import logging
from datetime import UTC

from django.db import transaction
from django.utils import timezone

from commands.models import Command, CommandState
from commands.services import command_issue, command_validate
from commands.edges import CommandInvalid
from firmware.campaigns import Outcome, campaign_in_window, update_outcome
from firmware.models import CampaignState, CampaignTarget, FirmwareCampaign, FirmwareUpdate, TargetState
from firmware.services import firmware_image_verify, firmware_updates_confirm, firmware_updates_stall

log = logging.getLogger(__name__)

ACTION = "UpdateFirmware"
SOURCE = "campaign"


def campaigns_drive(now=None) -> int:
    """One step of every campaign with work to do. How many boxes were started."""
    now = now or timezone.now()
    # The sweeps first, so that this step sees the boots and the silences up to now.
    firmware_updates_confirm()
    firmware_updates_stall(now=now)
    started = 0
    active = FirmwareCampaign.objects.exclude(state=CampaignState.DONE).filter(
        targets__state__in=[TargetState.PENDING, TargetState.UPDATING]).distinct().values_list("pk", flat=True)
    for pk in list(active):
        try:
            started += campaign_step(pk, now)
        except Exception:
            # One campaign's trouble stops not the others; the next beat tries it again.
            log.exception("firmware campaign %s: step failed", pk)
    return started


def campaign_step(campaign_id: int, now=None) -> int:
    """Follow, then start boxes: under the campaign's row lock, so two beats never overlap."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = FirmwareCampaign.objects.select_for_update(skip_locked=True).select_related("image").filter(
            pk=campaign_id).first()
        if campaign is None:
            return 0
        updating = _follow(campaign, now)
        started = 0
        if campaign.state == CampaignState.RUNNING and campaign_in_window(campaign, now):
            room = campaign.max_concurrent - updating
            if room > 0:
                started = _start(campaign, room, now)
        if campaign.state == CampaignState.RUNNING and not campaign.targets.filter(
                state__in=[TargetState.PENDING, TargetState.UPDATING]).exists():
            FirmwareCampaign.objects.filter(pk=campaign.pk).update(state=CampaignState.DONE)
        return started


def _follow(campaign: FirmwareCampaign, now) -> int:
    """Move each updating box to what its command and update say. How many are still updating."""
    targets = list(campaign.targets.filter(state=TargetState.UPDATING).select_related("box", "command"))
    updates = {u.command_id: u for u in FirmwareUpdate.objects.filter(
        command_id__in=[t.command_id for t in targets if t.command_id]).select_related("image")}
    still = 0
    for target in targets:
        outcome = _outcome(target, updates.get(target.command_id), now)
        if outcome.state == TargetState.UPDATING:
            still += 1
        if (outcome.state, outcome.step, outcome.words[:500]) != (target.state, target.step, target.words):
            CampaignTarget.objects.filter(pk=target.pk).update(state=outcome.state, step=outcome.step,
                                                               words=outcome.words[:500], changed=now)
            if outcome.state == TargetState.FAILED:
                log.warning("firmware campaign %s: box %s failed at %s: %s", campaign.pk, target.box.serial,
                            outcome.step, outcome.words)
    return still


def _outcome(target: CampaignTarget, update: FirmwareUpdate | None, now) -> Outcome:
    command = target.command
    if command is None:  # deleted under us: nothing to follow
        return Outcome(TargetState.FAILED, "command", "the command was deleted")
    if command.state in (CommandState.QUEUED, CommandState.SENT):
        return Outcome(TargetState.UPDATING, "command", command.state)
    if command.state != CommandState.ACCEPTED:
        return Outcome(TargetState.FAILED, "command", _command_words(command))
    if update is None:
        # Accepted, but no update opened (its effect failed, and said so in the log).
        return Outcome(TargetState.FAILED, "command", "accepted, but no firmware update was recorded")
    return update_outcome(update, target.box, now)


def _command_words(command: Command) -> str:
    status = (command.response or {}).get("status") if isinstance(command.response, dict) else None
    if status:
        return f"answered {status}"
    return f"{command.state}: {command.error_code} {command.error_description}".strip()


def _start(campaign: FirmwareCampaign, room: int, now) -> int:
    image = campaign.image
    if campaign.targets.filter(state=TargetState.PENDING).exists() and firmware_image_verify(image):
        # A damaged image is sent to no box: the campaign pauses itself, saying why.
        FirmwareCampaign.objects.filter(pk=campaign.pk).update(state=CampaignState.PAUSED,
                                                               problem=f"image: {image.problem}"[:255])
        campaign.state = CampaignState.PAUSED
        log.error("firmware campaign %s paused: image %s: %s", campaign.pk, image.pk, image.problem)
        return 0
    payload = {"location": image.url,
               "retrieveDate": now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}
    pending = list(campaign.targets.filter(state=TargetState.PENDING).select_related("box")[:room])
    for target in pending:
        try:
            command_validate(box=target.box, action=ACTION, payload=payload)
        except CommandInvalid as invalid:
            _set(target, TargetState.FAILED, now, step="command", words=invalid.message, attempt=True)
            continue
        command = command_issue(box=target.box, action=ACTION, payload=payload, requested_by=campaign.created_by,
                                source=SOURCE)
        if command.state == CommandState.REJECTED:  # refused before sending (not connected, ...)
            _set(target, TargetState.FAILED, now, step="command", words=command.error_description, command=command,
                 attempt=True)
        else:
            _set(target, TargetState.UPDATING, now, step="command", words=command.state, command=command,
                 attempt=True)
    return len(pending)


def _set(target: CampaignTarget, state: str, now, *, step: str, words: str, command=None, attempt=False) -> None:
    target.state, target.step, target.words, target.changed = state, step, words[:500], now
    fields = ["state", "step", "words", "changed"]
    if command is not None:
        target.command = command
        fields.append("command")
    if attempt:
        target.attempts += 1
        fields.append("attempts")
    target.save(update_fields=fields)
