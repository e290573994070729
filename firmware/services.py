import hashlib
import logging
import posixpath
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db import models
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from chargers.models import ChargeBox
from core.errors import DomainError
from firmware.choices import DiagnosticsStatus, FirmwareStatus
from firmware.models import (DiagnosticsStatusEvent, DiagnosticsUpload, FirmwareImage, FirmwareStatusEvent,
                             FirmwareUpdate)
from firmware.signals import firmware_status_changed

log = logging.getLogger(__name__)


def firmware_status_record(*, box: ChargeBox, status: str) -> FirmwareStatusEvent:
    """The status kept, and the box's newest open update moved on (news clears its stall). A status
    for no update of ours is kept all the same (the box acted on something), flagged with why."""
    event = FirmwareStatusEvent(box=box, status=status)
    moved = 0
    # Idle (an answer to TriggerMessage, OCPP 1.6 §4.5) says nothing about any update.
    if status != FirmwareStatus.IDLE:
        newest = FirmwareUpdate.objects.filter(box=box).order_by("-id").values("pk")[:1]
        moved = FirmwareUpdate.objects.filter(pk=Subquery(newest), confirmed_at__isnull=True).update(
            last_status=status, last_status_at=event.received, stalled_at=None)
        # A box that says Installed once booted may find its update confirmed by that boot already.
        late_installed = status == FirmwareStatus.INSTALLED and FirmwareUpdate.objects.filter(
            pk=Subquery(newest), confirmed_at__isnull=False).exists()
        if not moved and not late_installed:
            event.problem = UNSOLICITED_STATUS
            log.warning("box %s reported firmware status %s: %s", box.serial, status, UNSOLICITED_STATUS)
    event.save()
    firmware_status_changed.send(sender=FirmwareStatusEvent, box=box, status=status)
    return event


UNSOLICITED_STATUS = "no update was sent to this box (none open): a status for an update it never got"


def firmware_updates_stall(*, minutes: float | None = None, now=None) -> int:
    """Mark stalled the open updates with no news (a status, or their start) for ``minutes``
    (FIRMWARE_UPDATE_STALL_MINUTES); a failure reported is an end, not a stall. How many."""
    minutes = settings.FIRMWARE_UPDATE_STALL_MINUTES if minutes is None else minutes
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=minutes)
    return FirmwareUpdate.objects.filter(
        confirmed_at__isnull=True, stalled_at__isnull=True,
    ).exclude(last_status__in=FAILED_STATUSES).annotate(
        news=Coalesce("last_status_at", "created"),
    ).filter(news__lt=cutoff).update(stalled_at=now)


FAILED_STATUSES = (FirmwareStatus.DOWNLOAD_FAILED, FirmwareStatus.INSTALLATION_FAILED)


def firmware_update_open(*, command) -> FirmwareUpdate:
    """The update that ``command``, an UpdateFirmware the box accepted, starts (once per command).
    A location that carries one of our images' credentials names the image, and so the version
    to expect at the next boot."""
    location = command.payload["location"]
    update, _ = FirmwareUpdate.objects.get_or_create(command=command, defaults={
        "box_id": command.box_id, "location": location, "created": command.created,
        "image": firmware_image_at(location)})
    return update


def firmware_image_at(location: str) -> FirmwareImage | None:
    """The image of ours that ``location`` names by the credentials it carries, if any."""
    try:
        username = urlsplit(location).username or ""
    except ValueError:
        username = ""
    return FirmwareImage.objects.filter(ftp_username=username).first() if username else None


def firmware_updates_confirm() -> int:
    """Confirm the open updates whose box has booted since, reporting its image's version (one
    UPDATE; the Celery beat runs it every minute). How many were confirmed."""
    boxes = ChargeBox.objects.filter(pk=OuterRef("box_id"))
    return FirmwareUpdate.objects.filter(
        confirmed_at__isnull=True, image__isnull=False, box__last_boot__gt=models.F("created"),
        box__firmware_version=models.F("image__version"),
    ).update(confirmed_at=Subquery(boxes.values("last_boot")[:1]))


def diagnostics_status_record(*, box: ChargeBox, status: str) -> DiagnosticsStatusEvent:
    event = DiagnosticsStatusEvent.objects.create(box=box, status=status)
    if status != DiagnosticsStatus.IDLE:  # as for firmware: Idle answers a TriggerMessage
        newest = DiagnosticsUpload.objects.filter(box=box).order_by("-id").values("pk")[:1]
        DiagnosticsUpload.objects.filter(pk=Subquery(newest)).update(last_status=status,
                                                                     last_status_at=event.received)
    return event


def diagnostics_sweep(*, days: float | None = None) -> int:
    """Delete the diagnostics uploads opened more than ``days`` (DIAGNOSTICS_KEEP_DAYS) ago, their
    files with them (models' post_delete). How many."""
    days = settings.DIAGNOSTICS_KEEP_DAYS if days is None else days
    old = DiagnosticsUpload.objects.filter(created__lt=timezone.now() - timedelta(days=days))
    count = 0
    for upload in old.iterator():  # one by one: each deletes its own directory's files
        upload.delete()
        count += 1
    return count


def firmware_image_verify(image: FirmwareImage) -> str:
    """Read the image's file again and compare it with the checksums taken at upload: the problem
    (kept on the image, and logged), or "" when it is what was uploaded."""
    try:
        with image.file.open("rb") as file:
            size, md5, sha256 = file_digests(file)
    except OSError as exc:
        problem = f"the file cannot be read: {exc.strerror or exc}"
    else:
        problem = "" if (size, md5, sha256) == (image.size, image.md5, image.sha256) else (
            f"the file on disk does not match the upload: {size} bytes, MD5 {md5}, where {image.size} bytes, "
            f"MD5 {image.md5} were uploaded")
    if problem:
        log.error("firmware image %s (%s): %s", image.pk, image.version, problem)
    image.problem, image.verified_at = problem[:255], timezone.now()
    FirmwareImage.objects.filter(pk=image.pk).update(problem=image.problem, verified_at=image.verified_at)
    return problem


def file_digests(file: File) -> tuple[int, str, str]:
    """(size, MD5, SHA-256) of ``file``, read once in chunks. MD5 because boxes' updaters check it
    (OCPP 1.6 has no checksum field; vendors publish one of the two); SHA-256 for everyone else."""
    size, md5, sha256 = 0, hashlib.md5(usedforsecurity=False), hashlib.sha256()
    for chunk in file.chunks():
        size += len(chunk)
        md5.update(chunk)
        sha256.update(chunk)
    return size, md5.hexdigest(), sha256.hexdigest()


def firmware_image_check(*, file: File, version: str, vendor: str = "", model: str = "") -> None:
    """Why ``file`` cannot be stored as firmware ``version``, as a DomainError naming the input."""
    if not version.strip():
        raise DomainError("the firmware version is empty", field="version")
    # BootNotification's firmwareVersion is CiString50 (OCPP 1.6 §6.4); a box's vendor and model
    # are kept in 50 characters too.
    for field, value in (("version", version), ("vendor", vendor), ("model", model)):
        if len(value) > 50:
            raise DomainError(f"the {field} is longer than 50 characters", field=field)
    if not file.size:
        raise DomainError(f"{posixpath.basename(file.name or '')!r} is empty", field="file")


def firmware_image_add(*, file: File, version: str, vendor: str = "", model: str = "") -> FirmwareImage:
    """Store ``file`` through the storage API, with its size and checksums, and the row that makes
    it fetchable from its own FTP URL."""
    firmware_image_check(file=file, version=version, vendor=vendor, model=model)
    image = FirmwareImage(version=version.strip(), vendor=vendor, model=model)
    image.size, image.md5, image.sha256 = file_digests(file)
    image.file.save(posixpath.basename(file.name), file, save=False)
    try:
        with transaction.atomic():
            image.save()
    except BaseException:
        image.file.delete(save=False)  # no file without its row
        raise
    return image


def diagnostics_upload_open(*, box: ChargeBox, max_bytes: int | None = None,
                            hours: float | None = None) -> DiagnosticsUpload:
    """A place on the FTP server where ``box`` may upload diagnostics (its ``url`` is GetDiagnostics'
    location): at most ``max_bytes`` (DIAGNOSTICS_MAX_BYTES) for ``hours`` (DIAGNOSTICS_UPLOAD_HOURS)."""
    max_bytes = settings.DIAGNOSTICS_MAX_BYTES if max_bytes is None else max_bytes
    hours = settings.DIAGNOSTICS_UPLOAD_HOURS if hours is None else hours
    if max_bytes < 1:
        raise DomainError("the size limit must be at least 1 byte", field="max_bytes")
    if hours <= 0:
        raise DomainError("the upload must stay open for some time", field="hours")
    return DiagnosticsUpload.objects.create(box=box, max_bytes=max_bytes,
                                            expires=timezone.now() + timedelta(hours=hours))
