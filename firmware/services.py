from chargers.models import ChargeBox
from firmware.models import FirmwareStatusEvent


def firmware_status_record(*, box: ChargeBox, status: str) -> FirmwareStatusEvent:
    return FirmwareStatusEvent.objects.create(box=box, status=status)
