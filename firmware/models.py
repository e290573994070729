from django.db import models
from django.utils import timezone

from chargers.models import ChargeBox
from firmware.choices import DiagnosticsStatus, FirmwareStatus


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
