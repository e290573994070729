"""Every frame in and out of a box goes to its journal, verbatim, named by its action."""

import json

from chargers.models import JournalEntry


def test_calls_from_the_box_and_their_answers_are_journaled_verbatim(cp):
    frame = '[2, "j-1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]'
    cp.send(frame)
    answer = cp.recv()
    cp.call_error("Authorize", {})
    entries = list(JournalEntry.objects.filter(box__serial="CP-1").order_by("id"))
    assert [(e.direction, e.protocol, e.action) for e in entries] == [
        ("in", "ocpp1.6", "BootNotification"), ("out", "ocpp1.6", "BootNotification"),
        ("in", "ocpp1.6", "Authorize"), ("out", "ocpp1.6", "Authorize"),
    ]
    assert entries[0].payload == frame
    assert json.loads(entries[1].payload) == answer
    assert json.loads(entries[3].payload)[2] == "OccurenceConstraintViolation"
