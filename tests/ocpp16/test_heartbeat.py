"""Heartbeat (OCPP 1.6 §4.6): the central system's time, and a sign of life."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from chargers.choices import Protocol
from chargers.models import ChargeBox
from chargers.services import box_touch


def test_answers_the_current_time_and_records_the_sign_of_life(cp):
    answer = cp.call("Heartbeat", {})
    current = datetime.fromisoformat(answer["currentTime"])
    assert answer["currentTime"].endswith("Z")
    assert abs(current - timezone.now()) < timedelta(seconds=5)
    box = ChargeBox.objects.get(serial="CP-1")
    # Written at most every LAST_SEEN_RESOLUTION seconds (chargers.services.box_touch).
    assert abs(box.last_seen - current) <= timedelta(seconds=settings.LAST_SEEN_RESOLUTION + 1)
    assert box.is_online


def test_a_sign_of_life_is_written_once_per_resolution(db, make_box):
    box = make_box("CP-TOUCH")
    first = box_touch(box=box, protocol=Protocol.OCPP16)
    box_touch(box=box, protocol=Protocol.OCPP16)  # within the resolution: no write
    assert ChargeBox.objects.get(pk=box.pk).last_seen == first
    box.last_seen -= timedelta(seconds=settings.LAST_SEEN_RESOLUTION)
    later = box_touch(box=box, protocol=Protocol.OCPP16)
    assert ChargeBox.objects.get(pk=box.pk).last_seen == later > first
    box_touch(box=box, protocol=Protocol.EVCHONG)  # another protocol is news at once
    assert ChargeBox.objects.get(pk=box.pk).protocol == Protocol.EVCHONG


def test_null_payload_means_no_payload(cp):
    # OCPP-J 1.6 §4.2.1: "no payload" may be null as well as {}.
    cp.send([2, "hb-null", "Heartbeat", None])
    reply = cp.recv()
    assert reply[:2] == [3, "hb-null"] and "currentTime" in reply[2]


def test_unexpected_field_is_a_formation_violation(cp):
    assert cp.call_error("Heartbeat", {"uptime": 5})[0] == "FormationViolation"
