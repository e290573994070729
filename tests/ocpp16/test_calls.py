"""Calls from the central system (OCPP 1.6 §5): a command handed to the box's group, as the OCPP
edge's delivery does (ocpp16.delivery), reaches the box through the channel layer and the daphne
process holding its connection; the consumer settles the command with the outcome, and the waiter
is woken through Redis: answered, error, timeout or offline. One CALL at a time per connection."""

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from calling import call_box_sync
from chargers.models import JournalEntry
from commands.edges import CommandInvalid as InvalidCall
from core.errors import UnknownChargeBox
from ocpp16.delivery import box_group


@pytest.fixture
def calling():
    """``calling(serial, action, payload, timeout=None) -> Future`` of call_box's outcome."""
    with ThreadPoolExecutor(4) as pool:
        yield lambda *args, **kwargs: pool.submit(call_box_sync, *args, **kwargs)


@pytest.mark.parametrize("action, payload, answer", [
    ("Reset", {"type": "Soft"}, {"status": "Accepted"}),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"}, {"status": "RebootRequired"}),
    ("GetConfiguration", {"key": ["HeartbeatInterval", "Nonsense"]},
     {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "120"}], "unknownKey": ["Nonsense"]}),
    ("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG-1"}, {"status": "Accepted"}),
    ("RemoteStopTransaction", {"transactionId": 7}, {"status": "Rejected"}),
    ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}),
    ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, {"status": "Scheduled"}),
    ("ClearCache", {}, {"status": "Accepted"}),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}, {"status": "Accepted"}),
    ("UpdateFirmware", {"location": "https://fw.example.com/box-1.2.bin", "retrieveDate": "2026-11-22T00:00:00Z"}, {}),
    ("GetDiagnostics", {"location": "ftp://diag.example.com/"}, {"fileName": "diag-20261121.tgz"}),
    ("DataTransfer", {"vendorId": "com.acme", "messageId": "Ping"}, {"status": "Accepted", "data": "pong"}),
])
def test_the_box_answer_comes_back_to_the_caller(cp, calling, action, payload, answer):
    future = calling("CP-1", action, payload)
    _, unique_id, received_action, received_payload = cp.expect_call()
    assert (received_action, received_payload) == (action, payload)
    assert len(unique_id) <= 36
    cp.answer(unique_id, answer)
    assert future.result(10) == {"status": "answered", "payload": answer}
    journal = list(JournalEntry.objects.filter(box__serial="CP-1", action=action)
                   .order_by("id").values_list("direction", flat=True))
    assert journal == ["out", "in"]


def test_a_callerror_from_the_box_is_an_error_outcome(cp, calling):
    future = calling("CP-1", "Reset", {"type": "Hard"})
    unique_id = cp.expect_call()[1]
    cp.send([4, unique_id, "NotSupported", "no hard resets here", {}])
    assert future.result(10) == {"status": "error", "code": "NotSupported", "description": "no hard resets here"}


def test_an_answer_that_fails_the_schema_is_an_error_outcome(cp, calling):
    future = calling("CP-1", "Reset", {"type": "Soft"})
    cp.answer(cp.expect_call()[1], {"status": "Maybe"})
    outcome = future.result(10)
    assert (outcome["status"], outcome["code"]) == ("error", "PropertyConstraintViolation")


def test_a_silent_box_times_out_and_its_late_answer_is_ignored(cp, calling):
    started = time.monotonic()
    future = calling("CP-1", "ClearCache", {}, timeout=1)
    unique_id = cp.expect_call()[1]
    assert future.result(10) == {"status": "timeout"}
    assert time.monotonic() - started < 4
    cp.answer(unique_id, {"status": "Accepted"})  # too late
    cp.call("Heartbeat")  # the connection goes on


def test_an_answer_after_more_than_five_seconds_still_arrives(cp, calling):
    future = calling("CP-1", "ClearCache", {}, timeout=8)
    unique_id = cp.expect_call()[1]
    time.sleep(5.5)
    cp.answer(unique_id, {"status": "Accepted"})
    assert future.result(10)["status"] == "answered"


def test_a_box_that_is_not_connected_is_offline_at_once(transactional_db, make_box):
    make_box("AWAY")
    started = time.monotonic()
    assert call_box_sync("AWAY", "Reset", {"type": "Soft"}) == {"status": "offline"}
    assert time.monotonic() - started < 2


def test_a_box_that_disconnects_mid_call_fails_it_at_once(cp, calling):
    future = calling("CP-1", "Reset", {"type": "Soft"}, timeout=15)
    cp.expect_call()
    started = time.monotonic()
    cp.close()
    assert future.result(10) == {"status": "offline"}
    assert time.monotonic() - started < 5


def test_one_call_at_a_time_the_next_waits_for_the_answer(cp, calling):
    first = calling("CP-1", "Reset", {"type": "Soft"})
    second = calling("CP-1", "ClearCache", {})
    call_a = cp.expect_call()
    with pytest.raises(TimeoutError):
        cp.recv(timeout=0.7)  # nothing more while call_a is unanswered
    cp.answer(call_a[1], {"status": "Accepted"})
    call_b = cp.expect_call()
    assert {call_a[2], call_b[2]} == {"Reset", "ClearCache"}
    cp.answer(call_b[1], {"status": "Rejected"})
    outcomes = {first.result(10)["payload"]["status"], second.result(10)["payload"]["status"]}
    assert outcomes == {"Accepted", "Rejected"}


def test_a_queued_call_whose_caller_gave_up_is_never_sent(cp, calling):
    first = calling("CP-1", "Reset", {"type": "Soft"}, timeout=10)
    unique_id = cp.expect_call()[1]
    patient_enough = calling("CP-1", "ClearCache", {}, timeout=1)
    assert patient_enough.result(10) == {"status": "timeout"}
    cp.answer(unique_id, {"status": "Accepted"})
    assert first.result(10)["status"] == "answered"
    with pytest.raises(TimeoutError):
        cp.recv(timeout=0.7)


def test_crossing_calls_are_both_served(cp, calling, make_tag):
    # OCPP-J 1.6 §4.1.1: a CALL from the box may cross ours; each side answers the other.
    make_tag("TAG-1")
    future = calling("CP-1", "RemoteStartTransaction", {"idTag": "TAG-1"})
    unique_id = cp.expect_call()[1]
    assert cp.call("Authorize", {"idTag": "TAG-1"})["idTagInfo"]["status"] == "Accepted"
    cp.answer(unique_id, {"status": "Accepted"})
    assert future.result(10)["status"] == "answered"


def test_calls_that_are_not_ocpp_are_refused_before_sending(cp):
    with pytest.raises(InvalidCall) as refused:
        call_box_sync("CP-1", "Reset", {"type": "Warm"})
    assert (refused.value.code, refused.value.field) == ("PropertyConstraintViolation", "payload")
    with pytest.raises(InvalidCall) as refused:
        call_box_sync("CP-1", "UnlockConnector", {})
    assert refused.value.code == "OccurenceConstraintViolation"
    with pytest.raises(InvalidCall) as refused:
        call_box_sync("CP-1", "BootNotification", {"chargePointVendor": "X", "chargePointModel": "Y"})
    assert (refused.value.code, refused.value.field) == ("NotSupported", "action")
    with pytest.raises(TimeoutError):
        cp.recv(timeout=0.5)  # nothing reached the box


def test_an_unknown_box_is_an_error(transactional_db):
    with pytest.raises(UnknownChargeBox):
        call_box_sync("NOBODY", "Reset", {"type": "Soft"})


@pytest.mark.parametrize("serial", ["CP-1", "RDAM 123", "Zählsäule", "x" * 64, "a/b:c"])
def test_every_serial_has_a_valid_group_name(serial):
    group = box_group(serial)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", group) and len(group) < 100
    assert box_group(serial) == group != box_group(serial + "2")
