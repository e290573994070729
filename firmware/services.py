from chargers.models import ChargeBox
from firmware.models import DiagnosticsStatusEvent, FirmwareStatusEvent


def firmware_status_record(*, box: ChargeBox, status: str) -> FirmwareStatusEvent:
    return FirmwareStatusEvent.objects.create(box=box, status=status)


def diagnostics_status_record(*, box: ChargeBox, status: str) -> DiagnosticsStatusEvent:
    return DiagnosticsStatusEvent.objects.create(box=box, status=status)
