import posixpath

from django.db import models
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from chargers.models import ChargeBox
from firmware.choices import DiagnosticsStatus, FirmwareStatus
from firmware.credentials import ftp_url, new_image_username


class FirmwareStatusEvent(models.Model):
    """The history of a box's firmware progress, as the box reported it."""

    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="firmware_events")
    status = models.CharField(max_length=20, choices=FirmwareStatus.choices)
    received = models.DateTimeField(default=timezone.now)

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
