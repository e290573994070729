"""What the firmware app tells the apps above it, which it must not import."""

from django.dispatch import Signal

# Sent by firmware_status_record inside its transaction, with ``box`` and ``status`` (OCPP 1.6
# FirmwareStatus words), for each firmware status a box reports.
firmware_status_changed = Signal()
