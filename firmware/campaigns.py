"""Firmware campaigns: which boxes, when, how many at once, and what became of each (the rules).

Sending each box its UpdateFirmware is the commands layer's (commands.campaigns, driven by the
beat); here, what a campaign is: its boxes chosen once at creation, its maintenance window, its
operator's verbs (pause, resume, cancel, retry the failed), and the outcome of each box's current
attempt read from its FirmwareUpdate.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, time

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from chargers.models import ChargeBox, Station
from core.errors import DomainError
from firmware.choices import FirmwareStatus
from firmware.models import CampaignState, CampaignTarget, FirmwareCampaign, FirmwareImage, FirmwareUpdate, TargetState

FINISHED = (TargetState.DONE, TargetState.FAILED, TargetState.CANCELLED)


def campaign_boxes(*, station: Station | None = None, vendor: str = "", model: str = "", from_version: str = "",
                   serials: list[str] | None = None):
    """The boxes a selection names: all of its criteria together; explicit serials as given."""
    boxes = ChargeBox.objects.all()
    if station is not None:
        boxes = boxes.filter(station=station)
    if vendor:
        boxes = boxes.filter(vendor=vendor)
    if model:
        boxes = boxes.filter(model=model)
    if from_version:
        boxes = boxes.filter(firmware_version=from_version)
    if serials:
        boxes = boxes.filter(serial__in=serials)
    return boxes.order_by("id")


def campaign_selection(*, max_concurrent: int = 100, window_start: time | None = None,
                       window_end: time | None = None, station: Station | None = None, vendor: str = "",
                       model: str = "", from_version: str = "", serials: list[str] | None = None) -> tuple[list, str]:
    """(the ids of the boxes chosen, the selection in words), or a DomainError naming the field."""
    if max_concurrent < 1:
        raise DomainError("at least one box must be allowed to update at a time", field="max_concurrent")
    if (window_start is None) != (window_end is None):
        raise DomainError("a maintenance window needs both a start and an end", field="window_end")
    if window_start is not None and window_start == window_end:
        raise DomainError("the maintenance window is empty (start and end are the same)", field="window_end")
    serials = [s.strip() for s in serials or [] if s.strip()]
    boxes = campaign_boxes(station=station, vendor=vendor, model=model, from_version=from_version, serials=serials)
    if serials:
        unknown = sorted(set(serials) - set(boxes.values_list("serial", flat=True)))
        if unknown:
            raise DomainError(f"no such charge box (or not matching the other criteria): {', '.join(unknown[:10])}",
                              field="serials")
    box_ids = list(boxes.values_list("pk", flat=True))
    if not box_ids:
        raise DomainError("no charge box matches the selection", field=None)
    selection = "; ".join(part for part in (
        f"station {station.code}" if station else "", f"vendor {vendor}" if vendor else "",
        f"model {model}" if model else "", f"firmware {from_version}" if from_version else "",
        f"{len(serials)} boxes named" if serials else "") if part) or "every box"
    return box_ids, selection[:300]


def campaign_create(*, name: str, image: FirmwareImage, created_by=None, **selection) -> FirmwareCampaign:
    """A running campaign over the boxes the selection (``campaign_selection``) names now; boxes
    added later are not in it."""
    box_ids, words = campaign_selection(**selection)
    with transaction.atomic():
        campaign = FirmwareCampaign.objects.create(
            name=name, image=image, max_concurrent=selection.get("max_concurrent", 100),
            window_start=selection.get("window_start"), window_end=selection.get("window_end"),
            selection=words, created_by=created_by)
        CampaignTarget.objects.bulk_create([CampaignTarget(campaign=campaign, box_id=pk) for pk in box_ids],
                                           batch_size=1000)
    return campaign


def campaign_in_window(campaign: FirmwareCampaign, now: datetime | None = None) -> bool:
    """Whether new boxes may start now: inside the window, read in local time (TIME_ZONE); a window
    whose end is before its start spans midnight. No window: any time."""
    if campaign.window_start is None or campaign.window_end is None:
        return True
    local = timezone.localtime(now or timezone.now()).time()
    start, end = campaign.window_start, campaign.window_end
    if start < end:
        return start <= local < end
    return local >= start or local < end


def campaign_pause(campaign: FirmwareCampaign) -> None:
    """No new box starts; those updating go on (a box cannot be stopped mid-update)."""
    _move(campaign, [CampaignState.RUNNING], CampaignState.PAUSED)


def campaign_resume(campaign: FirmwareCampaign) -> None:
    _move(campaign, [CampaignState.PAUSED], CampaignState.RUNNING, problem="")


def campaign_cancel(campaign: FirmwareCampaign) -> int:
    """The boxes not yet started are cancelled; those updating are followed to their end. How many
    were cancelled."""
    with transaction.atomic():
        _move(campaign, [CampaignState.RUNNING, CampaignState.PAUSED, CampaignState.DONE], CampaignState.CANCELLED)
        return campaign.targets.filter(state=TargetState.PENDING).update(
            state=TargetState.CANCELLED, step="", words="cancelled by the operator", changed=timezone.now())


def campaign_retry_failed(campaign: FirmwareCampaign) -> int:
    """The failed boxes go back to the queue, and a finished campaign runs again. How many."""
    with transaction.atomic():
        campaign = FirmwareCampaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.state == CampaignState.CANCELLED:
            raise DomainError("the campaign was cancelled: start a new one", field="state")
        count = campaign.targets.filter(state=TargetState.FAILED).update(state=TargetState.PENDING,
                                                                         changed=timezone.now())
        if count and campaign.state == CampaignState.DONE:
            FirmwareCampaign.objects.filter(pk=campaign.pk).update(state=CampaignState.RUNNING)
        return count


def _move(campaign: FirmwareCampaign, from_states, to_state, **fields) -> None:
    moved = FirmwareCampaign.objects.filter(pk=campaign.pk, state__in=from_states).update(state=to_state, **fields)
    if not moved:
        campaign.refresh_from_db(fields=["state"])
        raise DomainError(f"the campaign is {campaign.state}: it cannot become {to_state}", field="state")
    campaign.state = to_state


@dataclass(frozen=True)
class Outcome:
    state: str  # TargetState
    step: str = ""
    words: str = ""


def update_outcome(update: FirmwareUpdate, box: ChargeBox, now: datetime | None = None) -> Outcome:
    """Where a box's update stands: done once confirmed (the box booted with the image's version),
    failed on a failure the box reported, on a stall, or on a boot with another version after it said
    Installed; otherwise still updating."""
    if update.confirmed_at:
        return Outcome(TargetState.DONE, "boot", f"booted with {box.firmware_version}")
    status = update.last_status
    if status == FirmwareStatus.DOWNLOAD_FAILED:
        return Outcome(TargetState.FAILED, "download", status)
    if status == FirmwareStatus.INSTALLATION_FAILED:
        return Outcome(TargetState.FAILED, "install", status)
    if update.stalled_at:
        return Outcome(TargetState.FAILED, "stalled",
                       f"no news for {settings.FIRMWARE_UPDATE_STALL_MINUTES:g} minutes after {status or 'Accepted'}")
    if (status == FirmwareStatus.INSTALLED and update.image is not None and box.last_boot
            and update.last_status_at and box.last_boot >= update.last_status_at
            and box.firmware_version != update.image.version):
        return Outcome(TargetState.FAILED, "boot",
                       f"booted with {box.firmware_version or 'no version'} where {update.image.version} was installed")
    return Outcome(TargetState.UPDATING, _STEPS.get(status, "command"), status or "Accepted")


_STEPS = {
    FirmwareStatus.DOWNLOADING: "download", FirmwareStatus.DOWNLOADED: "download",
    FirmwareStatus.INSTALLING: "install", FirmwareStatus.INSTALLED: "boot",
}


def campaign_progress(campaign: FirmwareCampaign) -> dict:
    """Counts per state and the share of boxes finished, for the admin's progress bar."""
    counts = dict(campaign.targets.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    counts = {state: counts.get(state, 0) for state in TargetState.values}
    total = sum(counts.values())
    finished = sum(counts[state] for state in FINISHED)
    campaign.refresh_from_db(fields=["state", "problem"])
    return {"id": campaign.pk, "state": campaign.state, "problem": campaign.problem, "total": total,
            "counts": counts, "finished": finished, "percent": round(100 * finished / total, 1) if total else 100.0}


CSV_COLUMNS = ["box", "state", "step", "box_said", "attempts", "changed", "firmware_version"]


def campaign_outcome_csv(campaign: FirmwareCampaign) -> str:
    """One line per box: its state, the step it reached or failed at, and the box's own words."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    rows = campaign.targets.select_related("box").order_by("box__serial").values_list(
        "box__serial", "state", "step", "words", "attempts", "changed", "box__firmware_version")
    for serial, state, step, words, attempts, changed, version in rows.iterator():
        writer.writerow([serial, state, step, words, attempts, timezone.localtime(changed).isoformat(), version])
    return out.getvalue()
