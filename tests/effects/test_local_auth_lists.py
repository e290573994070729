"""Local authorization lists (OCPP 1.6 §5.15, §5.10): what a box accepted is what we hold."""

from datetime import UTC, datetime

import pytest

from chargers.models import LocalAuthList
from commands.effects import send_local_list
from commands.outcomes import Outcome
from commands.services import command_settle

pytestmark = pytest.mark.django_db

ACCEPTED = {"status": "Accepted"}
# Three kinds of entry: a plain tag, one with an expiry, one in a group (parentIdTag).
FULL_V1 = {"listVersion": 1, "updateType": "Full", "localAuthorizationList": [
    {"idTag": "04A2B3C4", "idTagInfo": {"status": "Accepted"}},
    {"idTag": "04E5F6A7", "idTagInfo": {"status": "Accepted", "expiryDate": "2027-01-01T00:00:00Z"}},
    {"idTag": "04B8C9D0", "idTagInfo": {"status": "Blocked", "parentIdTag": "FLEET-1"}},
]}
DIFFERENTIAL_V2 = {"listVersion": 2, "updateType": "Differential", "localAuthorizationList": [
    {"idTag": "04A2B3C4", "idTagInfo": {"status": "Blocked"}},  # changed
    {"idTag": "04E5F6A7"},  # no idTagInfo: removed
    {"idTag": "04D1E2F3", "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET-1"}},  # added
]}


def entries(box) -> dict:
    return {e.id_tag: (e.status, e.expiry, e.parent_id_tag)
            for e in LocalAuthList.objects.get(box=box).entries.all()}


def test_full_update_becomes_the_list(box, send):
    assert send(box, "SendLocalList", FULL_V1, ACCEPTED).state == "accepted"
    assert LocalAuthList.objects.get(box=box).version == 1
    assert entries(box) == {"04A2B3C4": ("Accepted", None, ""),
                            "04E5F6A7": ("Accepted", datetime(2027, 1, 1, tzinfo=UTC), ""),
                            "04B8C9D0": ("Blocked", None, "FLEET-1")}


def test_differential_update_changes_removes_and_adds(box, send):
    send(box, "SendLocalList", FULL_V1, ACCEPTED)
    send(box, "SendLocalList", DIFFERENTIAL_V2, ACCEPTED)
    assert LocalAuthList.objects.get(box=box).version == 2
    assert entries(box) == {"04A2B3C4": ("Blocked", None, ""), "04B8C9D0": ("Blocked", None, "FLEET-1"),
                            "04D1E2F3": ("Accepted", None, "FLEET-1")}


def test_a_full_update_replaces_everything_even_with_an_empty_list(box, send):
    send(box, "SendLocalList", FULL_V1, ACCEPTED)
    send(box, "SendLocalList", {"listVersion": 5, "updateType": "Full"}, ACCEPTED)
    assert LocalAuthList.objects.get(box=box).version == 5
    assert entries(box) == {}


def test_an_old_version_is_still_sent_and_the_box_answer_decides(box, send):
    send(box, "SendLocalList", {**FULL_V1, "listVersion": 9}, ACCEPTED)
    command = send(box, "SendLocalList", DIFFERENTIAL_V2)
    assert command.state == "queued"  # not refused by us: only the box knows the version it holds
    command = command_settle(command_id=command.pk,
                                     outcome=Outcome.answered({"status": "VersionMismatch"}))
    assert command.state == "rejected"
    assert LocalAuthList.objects.get(box=box).version == 9
    assert set(entries(box)) == {"04A2B3C4", "04E5F6A7", "04B8C9D0"}


@pytest.mark.parametrize("outcome", [{"status": "answered", "payload": {"status": "Failed"}},
                                     {"status": "answered", "payload": {"status": "NotSupported"}},
                                     {"status": "timeout"}, {"status": "offline"}])
def test_an_update_the_box_did_not_accept_changes_nothing(box, send, outcome):
    send(box, "SendLocalList", FULL_V1, ACCEPTED)
    send(box, "SendLocalList", DIFFERENTIAL_V2, outcome=outcome)
    assert LocalAuthList.objects.get(box=box).version == 1
    assert entries(box)["04A2B3C4"][0] == "Accepted"


def test_applying_an_update_again_changes_nothing(box, send):
    send(box, "SendLocalList", FULL_V1, ACCEPTED)
    command = send(box, "SendLocalList", DIFFERENTIAL_V2, ACCEPTED)
    before = entries(box)
    send_local_list(command)
    assert entries(box) == before and LocalAuthList.objects.get(box=box).version == 2


def test_the_version_the_box_reports_is_kept_beside_ours(box, send):
    send(box, "SendLocalList", FULL_V1, ACCEPTED)
    assert send(box, "GetLocalListVersion", {}, {"listVersion": 0}).state == "accepted"
    auth_list = LocalAuthList.objects.get(box=box)
    # The box lost its list (a factory reset): ours still says what we sent, the report says what it has.
    assert (auth_list.version, auth_list.reported_version) == (1, 0) and auth_list.reported_at


def test_a_box_without_a_list_reports_its_version_too(box, send):
    send(box, "GetLocalListVersion", {}, {"listVersion": -1})
    auth_list = LocalAuthList.objects.get(box=box)
    assert (auth_list.version, auth_list.reported_version) == (None, -1)
