"""BootNotification (OCPP 1.6 §4.2): Accepted, Pending or Rejected as the operator decided, with the
interval the box is to use; what the box says of itself is recorded."""

from datetime import datetime, timedelta

from django.utils import timezone

from chargers.models import ChargeBox

SPEC_EXAMPLE = {"chargePointVendor": "VendorX", "chargePointModel": "SingleSocketCharger"}  # OCPP-J 1.6 §4.2.1


def test_spec_example_is_accepted_with_the_configured_interval(cp, settings):
    cp.send([2, "19223201", "BootNotification", SPEC_EXAMPLE])
    reply = cp.recv()
    assert reply[:2] == [3, "19223201"]
    answer = reply[2]
    assert answer["status"] == "Accepted"
    assert answer["interval"] == settings.HEARTBEAT_INTERVAL
    assert abs(datetime.fromisoformat(answer["currentTime"]) - timezone.now()) < timedelta(seconds=5)
    box = ChargeBox.objects.get(serial="CP-1")
    assert (box.vendor, box.model, box.protocol) == ("VendorX", "SingleSocketCharger", "ocpp1.6")
    assert box.last_boot is not None


def test_everything_the_box_reports_is_recorded(cp):
    cp.call("BootNotification", {
        **SPEC_EXAMPLE, "chargePointSerialNumber": "SN-7", "chargeBoxSerialNumber": "CB-7",
        "firmwareVersion": "1.2.3", "iccid": "8986000000000000001", "imsi": "460000000000001",
        "meterType": "DDS666", "meterSerialNumber": "M-42",
    })
    box = ChargeBox.objects.get(serial="CP-1")
    assert (box.charge_point_serial, box.firmware_version, box.iccid, box.imsi, box.meter_type, box.meter_serial) == (
        "SN-7", "1.2.3", "8986000000000000001", "460000000000001", "DDS666", "M-42")


def test_interval_is_the_box_own_when_it_has_one(cp):
    ChargeBox.objects.filter(serial="CP-1").update(heartbeat_interval=300)
    assert cp.call("BootNotification", SPEC_EXAMPLE)["interval"] == 300


def test_pending_box_may_only_boot_until_the_operator_accepts_it(transactional_db, make_box, connect_box):
    make_box("NEW-1")
    ChargeBox.objects.filter(serial="NEW-1").update(registration_status="Pending")
    box = connect_box("NEW-1")
    assert box.call("BootNotification", SPEC_EXAMPLE)["status"] == "Pending"
    code, description = box.call_error("Heartbeat", {})
    assert code == "SecurityError" and "pending" in description
    ChargeBox.objects.filter(serial="NEW-1").update(registration_status="Accepted")
    assert box.call("BootNotification", SPEC_EXAMPLE)["status"] == "Accepted"
    box.call("Heartbeat")


def test_rejected_box_is_told_so(transactional_db, make_box, connect_box):
    make_box("BAD-1")
    ChargeBox.objects.filter(serial="BAD-1").update(registration_status="Rejected")
    assert connect_box("BAD-1").call("BootNotification", SPEC_EXAMPLE)["status"] == "Rejected"


def test_missing_model_is_an_occurrence_violation(cp):
    code, description = cp.call_error("BootNotification", {"chargePointVendor": "VendorX"})
    assert code == "OccurenceConstraintViolation"
    assert "chargePointModel" in description


def test_overlong_vendor_is_a_property_violation(cp):
    code, _ = cp.call_error("BootNotification", {**SPEC_EXAMPLE, "chargePointVendor": "V" * 21})
    assert code == "PropertyConstraintViolation"
    assert ChargeBox.objects.get(serial="CP-1").vendor == ""
