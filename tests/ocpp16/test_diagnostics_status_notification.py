"""DiagnosticsStatusNotification (OCPP 1.6 §6.1): the box's progress uploading diagnostics, kept as
history."""

from firmware.models import DiagnosticsStatusEvent


def test_progress_is_kept(cp):
    for status in ("Uploading", "UploadFailed", "Uploading", "Uploaded", "Idle"):
        assert cp.call("DiagnosticsStatusNotification", {"status": status}) == {}
    assert list(DiagnosticsStatusEvent.objects.filter(box__serial="CP-1").order_by("id")
                .values_list("status", flat=True)) == ["Uploading", "UploadFailed", "Uploading", "Uploaded", "Idle"]


def test_status_is_required(cp):
    assert cp.call_error("DiagnosticsStatusNotification", {})[0] == "OccurenceConstraintViolation"
    assert not DiagnosticsStatusEvent.objects.exists()
