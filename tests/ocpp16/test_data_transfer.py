"""DataTransfer from a box (OCPP 1.6 §4.3): no vendor extension is known, so every vendor is
unknown; the message itself is kept in the journal."""

from chargers.models import JournalEntry


def test_unknown_vendor(cp):
    payload = {"vendorId": "com.example.acme", "messageId": "Diag", "data": "{\"temp\": 41}"}
    assert cp.call("DataTransfer", payload) == {"status": "UnknownVendorId"}
    entry = JournalEntry.objects.filter(box__serial="CP-1", action="DataTransfer", direction="in").get()
    assert "com.example.acme" in entry.payload


def test_vendor_id_is_required(cp):
    assert cp.call_error("DataTransfer", {"data": "x"})[0] == "OccurenceConstraintViolation"


def test_overlong_message_id_is_a_property_violation(cp):
    assert cp.call_error("DataTransfer", {"vendorId": "acme", "messageId": "M" * 51})[0] == \
        "PropertyConstraintViolation"
