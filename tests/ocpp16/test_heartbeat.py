"""Heartbeat (OCPP 1.6 §4.6): the central system's time, and a sign of life."""

from datetime import datetime, timedelta

from django.utils import timezone

from chargers.models import ChargeBox


def test_answers_the_current_time_and_records_the_sign_of_life(cp):
    ChargeBox.objects.filter(serial="CP-1").update(last_seen=timezone.now() - timedelta(hours=1))
    answer = cp.call("Heartbeat", {})
    current = datetime.fromisoformat(answer["currentTime"])
    assert answer["currentTime"].endswith("Z")
    assert abs(current - timezone.now()) < timedelta(seconds=5)
    box = ChargeBox.objects.get(serial="CP-1")
    assert abs(box.last_seen - current) < timedelta(seconds=1)
    assert box.is_online


def test_null_payload_means_no_payload(cp):
    # OCPP-J 1.6 §4.2.1: "no payload" may be null as well as {}.
    cp.send([2, "hb-null", "Heartbeat", None])
    reply = cp.recv()
    assert reply[:2] == [3, "hb-null"] and "currentTime" in reply[2]


def test_unexpected_field_is_a_formation_violation(cp):
    assert cp.call_error("Heartbeat", {"uptime": 5})[0] == "FormationViolation"
