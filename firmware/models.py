import posixpath

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from chargers.models import ChargeBox
from firmware.choices import DiagnosticsStatus, FirmwareStatus
from firmware.credentials import ftp_url, new_diagnostics_username, new_image_username


class FirmwareStatusEvent(models.Model):
    """The history of a box's firmware progress, as the box reported it."""

    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="firmware_events")
    status = models.CharField(max_length=20, choices=FirmwareStatus.choices)
    received = models.DateTimeField(default=timezone.now)
    # Kept, and flagged: a status for no update we sent (firmware_status_record says which).
    problem = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["-received", "-id"]
        indexes = [models.Index(fields=["box", "-received"], name="firmware_event_box_recent")]

    def __str__(self):
        return f"{self.box_id} {self.status}"


class DiagnosticsStatusEvent(models.Model):
    """The history of a box's diagnostics uploads (GetDiagnostics), as the box reported it."""

    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="diagnostics_events")
    status = models.CharField(max_length=20, choices=DiagnosticsStatus.choices)
    received = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received", "-id"]
        indexes = [models.Index(fields=["box", "-received"], name="diagnostics_event_box_recent")]

    def __str__(self):
        return f"{self.box_id} {self.status}"


def firmware_upload_to(image: "FirmwareImage", filename: str) -> str:
    # One directory per image, named by its FTP username: the directory is that credential's whole
    # view of the server (firmware/ftpserver.py), and nothing else is ever in it.
    return f"firmware/{image.ftp_username}/{filename}"


class FirmwareImage(models.Model):
    """A firmware image that boxes fetch over FTP or FTPS (EVCHONG rule 1 h) from ``url``."""

    version = models.CharField(max_length=50, help_text="as the box reports it at boot (firmwareVersion)")
    vendor = models.CharField(max_length=50, blank=True, help_text="the vendor of the boxes it fits")
    model = models.CharField(max_length=50, blank=True, help_text="the model of the boxes it fits")
    file = models.FileField(upload_to=firmware_upload_to, max_length=255)
    size = models.PositiveBigIntegerField(editable=False)
    md5 = models.CharField(max_length=32, editable=False)
    sha256 = models.CharField(max_length=64, editable=False)
    # The read credential in the URL; the password is derived from it (firmware.credentials).
    ftp_username = models.CharField(max_length=32, unique=True, default=new_image_username, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    # The file on disk read again (firmware_image_verify): what differs from the upload's checksums.
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    problem = models.CharField(max_length=255, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        fits = " ".join(part for part in (self.vendor, self.model) if part)
        return f"{self.version} ({fits})" if fits else self.version

    @property
    def file_name(self) -> str:
        return posixpath.basename(self.file.name)

    @property
    def url(self) -> str:
        return ftp_url(self.ftp_username, self.file_name)


@receiver(post_delete, sender=FirmwareImage)
def _firmware_image_file_delete(sender, instance: FirmwareImage, **kwargs):
    # Also on the admin's bulk delete, which calls no model's delete(): no file outlives its row.
    if instance.file:
        instance.file.delete(save=False)


class DiagnosticsUpload(models.Model):
    """Where a box may put its diagnostics file (GetDiagnostics' location, OCPP 1.6 §5.9): a directory
    of its own on the FTP server, write-only, up to ``max_bytes`` in all, until ``expires``."""

    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="diagnostics_uploads")
    ftp_username = models.CharField(max_length=32, unique=True, default=new_diagnostics_username, editable=False)
    max_bytes = models.PositiveBigIntegerField()
    created = models.DateTimeField(default=timezone.now, editable=False)
    expires = models.DateTimeField()
    # The GetDiagnostics that gave the box this place, if the system issued it (commands.diagnostics).
    command = models.OneToOneField("commands.Command", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="diagnostics_upload")
    last_status = models.CharField(max_length=20, choices=DiagnosticsStatus.choices, blank=True)
    last_status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.box_id} diagnostics {self.created:%Y-%m-%d %H:%M}"

    @property
    def directory(self) -> str:
        """Under MEDIA_ROOT, as the storage API names it."""
        return f"diagnostics/{self.ftp_username}"

    def file_names(self) -> list[str]:
        """The files the box uploaded here, whole ones only (the FTP server removes broken ones)."""
        if not default_storage.exists(self.directory):
            return []
        return sorted(default_storage.listdir(self.directory)[1])

    @property
    def url(self) -> str:
        # A directory: OCPP 1.6 GetDiagnostics.req's location is where the box uploads, under a
        # file name of its choosing.
        return ftp_url(self.ftp_username)


@receiver(post_delete, sender=DiagnosticsUpload)
def _diagnostics_files_delete(sender, instance: DiagnosticsUpload, **kwargs):
    storage = default_storage
    if storage.exists(instance.directory):
        for name in storage.listdir(instance.directory)[1]:
            storage.delete(f"{instance.directory}/{name}")


class TransferDirection(models.TextChoices):
    DOWNLOAD = "download"
    UPLOAD = "upload"


class FileTransfer(models.Model):
    """A file the FTP server sent or received, whole or not: who fetched which image, when, from
    where, and how far it got (firmware/ftpserver.py)."""

    username = models.CharField(max_length=32)
    image = models.ForeignKey(FirmwareImage, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="transfers")
    diagnostics_upload = models.ForeignKey(DiagnosticsUpload, null=True, blank=True, on_delete=models.SET_NULL,
                                           related_name="transfers")
    box = models.ForeignKey(ChargeBox, null=True, blank=True, on_delete=models.SET_NULL, related_name="file_transfers")
    direction = models.CharField(max_length=10, choices=TransferDirection.choices)
    file_name = models.CharField(max_length=255)
    bytes = models.PositiveBigIntegerField()
    completed = models.BooleanField()
    tls = models.BooleanField(help_text="the data went over TLS (PROT P)")
    remote_address = models.CharField(max_length=64)
    started = models.DateTimeField()
    finished = models.DateTimeField()
    problem = models.CharField(max_length=255, blank=True, help_text="why the transfer did not complete, if known")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["image", "-id"], name="file_transfer_image_recent"),
            models.Index(fields=["box", "-id"], name="file_transfer_box_recent"),
        ]

    def __str__(self):
        return f"{self.direction} {self.file_name} {self.bytes} B"


class FirmwareUpdate(models.Model):
    """A box's firmware update, from its acceptance of an UpdateFirmware (commands.effects) to its
    boot with the new version: the box's FirmwareStatusNotifications are followed on the box's
    newest update (``last_status``), and it is confirmed when the box boots reporting the version
    of the image it was sent (``firmware_updates_confirm``). An update from a location that is not
    one of our images has no version to expect: it follows the statuses only."""

    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="firmware_updates")
    command = models.OneToOneField("commands.Command", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="firmware_update")
    image = models.ForeignKey(FirmwareImage, null=True, blank=True, on_delete=models.SET_NULL, related_name="updates")
    location = models.CharField(max_length=512)
    created = models.DateTimeField(default=timezone.now)
    last_status = models.CharField(max_length=20, choices=FirmwareStatus.choices, blank=True)
    last_status_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text="the boot that reported the new version")
    # No news for FIRMWARE_UPDATE_STALL_MINUTES (firmware_updates_stall); news clears it.
    stalled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["box", "-id"], name="firmware_update_box_recent"),
            # The confirmation sweep reads the open ones only.
            models.Index(fields=["id"], condition=models.Q(confirmed_at__isnull=True), name="firmware_update_open"),
        ]

    def __str__(self):
        return f"{self.box_id} {self.image or self.location}"

    @property
    def state(self) -> str:
        if self.confirmed_at:
            return "Confirmed"
        if self.stalled_at:
            return "Stalled"
        return self.last_status or "Accepted"



class CampaignState(models.TextChoices):
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


class FirmwareCampaign(models.Model):
    """One image rolled out to many boxes: at most ``max_concurrent`` updating at once, new ones
    started only inside the maintenance window (local time, TIME_ZONE), driven by a beat task
    (commands.campaigns). The boxes are chosen once, at creation (``targets``)."""

    name = models.CharField(max_length=100)
    image = models.ForeignKey(FirmwareImage, on_delete=models.PROTECT, related_name="campaigns")
    state = models.CharField(max_length=10, choices=CampaignState.choices, default=CampaignState.RUNNING)
    max_concurrent = models.PositiveIntegerField(default=100, help_text="boxes updating at once, at most")
    window_start = models.TimeField(null=True, blank=True, help_text="local time; empty: any time")
    window_end = models.TimeField(null=True, blank=True, help_text="local time; may be before the start (overnight)")
    # How the boxes were chosen, for the record.
    selection = models.CharField(max_length=300, blank=True, editable=False)
    problem = models.CharField(max_length=255, blank=True, default="", editable=False,
                               help_text="why the campaign stopped by itself (a damaged image)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.name} ({self.image})"


class TargetState(models.TextChoices):
    PENDING = "pending"
    UPDATING = "updating"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CampaignTarget(models.Model):
    """One box of a campaign: its current attempt (the UpdateFirmware command, then the box's
    FirmwareUpdate), and where and why it ended."""

    campaign = models.ForeignKey(FirmwareCampaign, on_delete=models.CASCADE, related_name="targets")
    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=TargetState.choices, default=TargetState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    command = models.ForeignKey("commands.Command", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    step = models.CharField(max_length=20, blank=True, help_text="where it stopped: command, download, install, "
                                                                  "boot, stalled")
    words = models.CharField(max_length=500, blank=True, help_text="what the box said (a status, an error)")
    changed = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["campaign", "box"], name="campaign_target_once")]
        indexes = [models.Index(fields=["campaign", "state"], name="campaign_target_state")]

    def __str__(self):
        return f"{self.campaign_id} {self.box_id} {self.state}"
