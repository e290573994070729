"""FirmwareStatusNotification (OCPP 1.6 §6.2): the box's progress through an update, kept as history."""

from firmware.models import FirmwareStatusEvent


def test_progress_is_kept_in_order(cp):
    for status in ("Downloading", "Downloaded", "Installing", "Installed"):
        assert cp.call("FirmwareStatusNotification", {"status": status}) == {}
    assert list(FirmwareStatusEvent.objects.filter(box__serial="CP-1").order_by("id")
                .values_list("status", flat=True)) == ["Downloading", "Downloaded", "Installing", "Installed"]


def test_unknown_status_is_a_property_violation(cp):
    assert cp.call_error("FirmwareStatusNotification", {"status": "Flashing"})[0] == "PropertyConstraintViolation"
    assert not FirmwareStatusEvent.objects.exists()
