"""Local lists, reservations and charging profiles with real processes: the operations API on
daphne, Celery delivery through a real worker and Redis, a real OCPP box on a WebSocket answering
each call, and the rows in PostgreSQL that its answers leave."""

import io
import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from chargers.models import LocalAuthList, Reservation
from simbox import SimBox
from smartcharging.models import ChargingProfile

ACCEPTED = {"status": "Accepted"}


@pytest.fixture
def server(fast_server):
    return fast_server


@pytest.fixture
def token(transactional_db, make_box, make_tag):
    make_box("E2E-1", connectors=2)
    make_tag("HOLDER")
    make_tag("SOMEONE")
    out = io.StringIO()
    call_command("apitoken", "backend", stdout=out)
    return out.getvalue().strip()


def command(server, token, action, payload):
    """POST /api/v1/boxes/E2E-1/commands, waiting for the box's answer."""
    body = json.dumps({"action": action, "payload": payload, "wait": True}).encode()
    request = urllib.request.Request(f"{server}/api/v1/boxes/E2E-1/commands", data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_send_local_list_full_then_differential(server, token, celery_worker):
    answers = {"SendLocalList": ACCEPTED, "GetLocalListVersion": {"listVersion": 2}}
    with SimBox(server, "E2E-1", answers) as box:
        status, full = command(server, token, "SendLocalList", {
            "listVersion": 1, "updateType": "Full", "localAuthorizationList": [
                {"idTag": "04A2B3C4", "idTagInfo": {"status": "Accepted"}},
                {"idTag": "04E5F6A7", "idTagInfo": {"status": "Accepted", "expiryDate": "2027-01-01T00:00:00Z"}}]})
        assert (status, full["state"]) == (200, "accepted")
        _, differential = command(server, token, "SendLocalList", {
            "listVersion": 2, "updateType": "Differential", "localAuthorizationList": [
                {"idTag": "04E5F6A7"}, {"idTag": "04D1E2F3", "idTagInfo": {"status": "Blocked"}}]})
        assert differential["state"] == "accepted"
        _, version = command(server, token, "GetLocalListVersion", {})
        assert version["response"] == {"listVersion": 2}

        # A version the box already has is still sent; its VersionMismatch leaves the list alone.
        answers["SendLocalList"] = {"status": "VersionMismatch"}
        _, stale = command(server, token, "SendLocalList", {
            "listVersion": 2, "updateType": "Differential", "localAuthorizationList": [{"idTag": "04A2B3C4"}]})
        assert stale["state"] == "rejected"
        assert [action for action, _ in box.calls] == ["SendLocalList", "SendLocalList", "GetLocalListVersion",
                                                      "SendLocalList"]
    auth_list = LocalAuthList.objects.get(box__serial="E2E-1")
    assert (auth_list.version, auth_list.reported_version) == (2, 2)
    assert {(e.id_tag, e.status) for e in auth_list.entries.all()} == {("04A2B3C4", "Accepted"),
                                                                       ("04D1E2F3", "Blocked")}


def test_a_reservation_from_reserve_now_to_the_session_that_uses_it(server, token, celery_worker):
    answers = {"ReserveNow": ACCEPTED, "RemoteStartTransaction": ACCEPTED}
    expiry = (timezone.now() + timedelta(hours=1)).isoformat()
    with SimBox(server, "E2E-1", answers) as box:
        # No reservationId given: ours is allocated, and that is what the box is sent.
        status, reserved = command(server, token, "ReserveNow",
                                   {"connectorId": 1, "expiryDate": expiry, "idTag": "HOLDER"})
        assert (status, reserved["state"]) == (200, "accepted")
        reservation_id = reserved["payload"]["reservationId"]
        assert box.calls[-1] == ("ReserveNow", {"connectorId": 1, "expiryDate": expiry, "idTag": "HOLDER",
                                                "reservationId": reservation_id})
        assert Reservation.objects.get(pk=reservation_id).state == "accepted"

        _, stranger = command(server, token, "RemoteStartTransaction", {"connectorId": 1, "idTag": "SOMEONE"})
        assert stranger["state"] == "rejected"
        assert stranger["error"] == {"code": "Refused", "description": "the connector is reserved for another user"}
        _, holder = command(server, token, "RemoteStartTransaction", {"connectorId": 1, "idTag": "HOLDER"})
        assert holder["state"] == "accepted"
        assert [action for action, _ in box.calls] == ["ReserveNow", "RemoteStartTransaction"]

        started = box.call("StartTransaction", {"connectorId": 1, "idTag": "HOLDER", "meterStart": 0,
                                                "timestamp": timezone.now().isoformat(),
                                                "reservationId": reservation_id})
        assert started["idTagInfo"]["status"] == "Accepted"
    reservation = Reservation.objects.get(pk=reservation_id)
    assert (reservation.state, reservation.transaction_id) == ("used", started["transactionId"])


def test_a_refused_and_a_cancelled_reservation(server, token, celery_worker):
    answers = {"ReserveNow": {"status": "Occupied"}, "CancelReservation": ACCEPTED}
    expiry = (timezone.now() + timedelta(hours=1)).isoformat()
    with SimBox(server, "E2E-1", answers):
        _, occupied = command(server, token, "ReserveNow", {"connectorId": 1, "expiryDate": expiry, "idTag": "HOLDER"})
        assert occupied["state"] == "rejected"
        answers["ReserveNow"] = ACCEPTED
        _, reserved = command(server, token, "ReserveNow", {"connectorId": 2, "expiryDate": expiry, "idTag": "HOLDER",
                                                             "reservationId": occupied["payload"]["reservationId"]})
        _, cancelled = command(server, token, "CancelReservation",
                               {"reservationId": reserved["payload"]["reservationId"]})
        assert cancelled["state"] == "accepted"
    first = Reservation.objects.get(pk=occupied["payload"]["reservationId"])
    second = Reservation.objects.get(pk=reserved["payload"]["reservationId"])
    assert (first.state, first.box_status) == ("rejected", "Occupied")
    assert second.pk != first.pk  # a number already used is never sent again
    assert second.state == "cancelled"


def test_charging_profiles_set_cleared_and_ended_with_the_session(server, token, celery_worker):
    answers = {"SetChargingProfile": ACCEPTED, "ClearChargingProfile": ACCEPTED}
    schedule = {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}

    def profile(profile_id, purpose, stack_level=0):
        return {"chargingProfileId": profile_id, "stackLevel": stack_level, "chargingProfilePurpose": purpose,
                "chargingProfileKind": "Relative", "chargingSchedule": schedule}

    with SimBox(server, "E2E-1", answers) as box:
        for connector_id, body in [(0, profile(1, "ChargePointMaxProfile")), (1, profile(2, "TxDefaultProfile")),
                                   (1, profile(3, "TxDefaultProfile"))]:  # 3 replaces 2: same level and purpose
            _, set_profile = command(server, token, "SetChargingProfile",
                                     {"connectorId": connector_id, "csChargingProfiles": body})
            assert set_profile["state"] == "accepted"
        started = box.call("StartTransaction", {"connectorId": 1, "idTag": "HOLDER", "meterStart": 0,
                                                "timestamp": timezone.now().isoformat()})
        command(server, token, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile(4, "TxProfile")})
        assert ChargingProfile.objects.get(charging_profile_id=4).transaction_id == started["transactionId"]

        box.call("StopTransaction", {"transactionId": started["transactionId"], "meterStop": 5000,
                                     "timestamp": timezone.now().isoformat()})
        assert set(ChargingProfile.objects.values_list("charging_profile_id", flat=True)) == {1, 3}
        _, cleared = command(server, token, "ClearChargingProfile", {"chargingProfilePurpose": "TxDefaultProfile"})
        assert cleared["state"] == "accepted"
    assert list(ChargingProfile.objects.values_list("charging_profile_id", flat=True)) == [1]
