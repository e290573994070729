"""Authorize (OCPP 1.6 §4.1): the idTagInfo the domain decides, in OCPP's words."""

from datetime import datetime, timedelta

from django.utils import timezone


def test_accepted_tag_with_expiry_and_parent(cp, make_tag):
    expiry = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    make_tag("FLEET")
    make_tag("TAG-1", expiry=expiry.isoformat(), parent="FLEET")
    info = cp.call("Authorize", {"idTag": "TAG-1"})["idTagInfo"]
    assert info["status"] == "Accepted"
    assert info["parentIdTag"] == "FLEET"
    assert datetime.fromisoformat(info["expiryDate"]) == expiry


def test_unknown_tag_is_invalid(cp):
    assert cp.call("Authorize", {"idTag": "NOBODY"}) == {"idTagInfo": {"status": "Invalid"}}


def test_blocked_and_expired_tags(cp, make_tag):
    make_tag("BLOCKED", status="Blocked")
    make_tag("OLD", expiry=(timezone.now() - timedelta(days=1)).isoformat())
    assert cp.call("Authorize", {"idTag": "BLOCKED"})["idTagInfo"]["status"] == "Blocked"
    assert cp.call("Authorize", {"idTag": "OLD"})["idTagInfo"]["status"] == "Expired"


def test_a_blocked_group_locks_its_members_out(cp, make_tag):
    make_tag("GROUP", status="Blocked")
    make_tag("MEMBER", parent="GROUP")
    assert cp.call("Authorize", {"idTag": "MEMBER"})["idTagInfo"]["status"] == "Blocked"


def test_overlong_tag_is_a_property_violation(cp):
    code, description = cp.call_error("Authorize", {"idTag": "X" * 21})
    assert code == "PropertyConstraintViolation" and "idTag" in description


def test_numeric_tag_is_a_type_violation(cp):
    assert cp.call_error("Authorize", {"idTag": 1234})[0] == "TypeConstraintViolation"
