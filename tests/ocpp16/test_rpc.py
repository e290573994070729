"""The OCPP-J 1.6 RPC framework (§4): broken frames from bad firmware get the right CALLERROR with
the caller's unique id where one can be read ("-1" where none can), and disturb nobody."""

import pytest

from chargers.models import JournalEntry

HEARTBEAT_OK = [2, "ok-1", "Heartbeat", {}]


def error_of(cp, frame) -> list:
    cp.send(frame)
    reply = cp.recv()
    assert reply[0] == 4 and len(reply) == 5 and reply[4] == {} and isinstance(reply[3], str), reply
    return reply[1:3]


@pytest.mark.parametrize("frame, expected", [
    ("this is not json", ["-1", "FormationViolation"]),
    ('[2, "abc-1", "Heartbeat", {', ["abc-1", "FormationViolation"]),  # truncated: the id is still read
    ('{"messageTypeId": 2}', ["-1", "FormationViolation"]),
    ("[]", ["-1", "FormationViolation"]),
    ('[2, 17, "Heartbeat", {}]', ["-1", "FormationViolation"]),
    ('["2", "s-1", "Heartbeat", {}]', ["s-1", "FormationViolation"]),
    ('[9, "t-1", "Heartbeat", {}]', ["t-1", "ProtocolError"]),
    ('[2, "p-1", "Heartbeat"]', ["p-1", "ProtocolError"]),
    ('[2, "p-2", "Heartbeat", {}, "extra"]', ["p-2", "FormationViolation"]),
    ('[2, "a-1", 42, {}]', ["a-1", "FormationViolation"]),
    ('[2, "a-2", "Heartbeat", [1, 2]]', ["a-2", "FormationViolation"]),
    ('[2, "", "Heartbeat", {}]', ["-1", "FormationViolation"]),  # an empty id is no id
])
def test_broken_frames(cp, frame, expected):
    assert error_of(cp, frame) == expected
    assert cp.call("Heartbeat")  # the connection is still good


def test_unique_ids_up_to_36_characters(cp):
    cp.call("Heartbeat", unique_id="x" * 36)
    long_id = "y" * 37
    assert error_of(cp, [2, long_id, "Heartbeat", {}]) == [long_id, "FormationViolation"]


def test_unknown_action_is_not_implemented(cp):
    code, description = cp.call_error("MakeCoffee", {})
    assert code == "NotImplemented" and "MakeCoffee" in description


@pytest.mark.parametrize("action", ["Reset", "RemoteStartTransaction", "SecurityEventNotification"])
def test_known_action_that_a_box_does_not_send_is_not_supported(cp, action):
    assert cp.call_error(action, {})[0] == "NotSupported"


def test_actions_are_case_sensitive(cp):
    assert cp.call_error("heartbeat", {})[0] == "NotImplemented"


def test_stray_and_unsolicited_answers_are_ignored(cp):
    cp.send([3, "never-asked", {"status": "Accepted"}])
    cp.send([4, "never-asked-either", "GenericError", "", {}])
    cp.send('[3, "broken-answer", ')
    reply = cp.call("Heartbeat", unique_id="after-strays")
    assert "currentTime" in reply
    assert JournalEntry.objects.filter(box__serial="CP-1", payload__contains="never-asked").count() == 2


def test_json_sent_as_a_binary_frame_is_understood(cp):
    cp.send(b'[2, "bin-1", "Heartbeat", {}]')
    assert cp.recv()[:2] == [3, "bin-1"]
    cp.send(b"\xff\xfe not utf-8")
    assert cp.recv()[:3] == [4, "-1", "FormationViolation"]


def test_broken_frames_are_journaled_with_their_answers(cp):
    cp.send("garbage")
    cp.recv()
    entries = list(JournalEntry.objects.filter(box__serial="CP-1").order_by("id").values_list("direction", "payload"))
    assert entries[0] == ("in", "garbage")
    assert entries[1][0] == "out" and '"FormationViolation"' in entries[1][1]


def test_a_broken_box_does_not_disturb_another(transactional_db, make_box, connect_box):
    make_box("GOOD")
    make_box("BAD")
    good, bad = connect_box("GOOD"), connect_box("BAD")
    for n in range(20):
        bad.send("{{{{" * n)
        assert "currentTime" in good.call("Heartbeat")  # answered at once, whatever the other sends
    answers = [bad.recv() for _ in range(20)]
    assert all(answer[0] == 4 for answer in answers)  # each broken frame got its CALLERROR


@pytest.mark.parametrize("frame, expected", [
    ('[2, "n-1", "Heart\\u0000beat", {}]', ["n-1", "FormationViolation"]),
    ('[2, "n-2", "Authorize", {"idTag": "A\\u0000B"}]', ["n-2", "PropertyConstraintViolation"]),
    ('[2, "n-3", "DataTransfer", {"vendorId": "v", "data": "\\u0000"}]', ["n-3", "PropertyConstraintViolation"]),
])
def test_a_nul_that_postgresql_cannot_store_is_refused_with_its_own_error(cp, frame, expected):
    assert error_of(cp, frame) == expected
    # Journaled as its JSON escape, with the answer; the connection goes on.
    entries = list(JournalEntry.objects.filter(box__serial="CP-1").order_by("id").values_list("direction", "payload"))
    assert [direction for direction, _ in entries[-2:]] == ["in", "out"] and "\\u0000" in entries[-2][1]
    assert cp.call("Heartbeat")


def test_an_integer_too_large_for_64_bits_is_valid_json_refused_by_the_schema(cp):
    code = error_of(cp, '[2, "big-1", "StatusNotification", {"connectorId": 123456789012345678901234567890,'
                        ' "errorCode": "NoError", "status": "Available"}]')
    assert code[0] == "big-1" and code[1] != "FormationViolation"
    assert cp.call("Heartbeat")
