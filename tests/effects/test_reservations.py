"""Reservations (OCPP 1.6 §5.13 ReserveNow, §5.1 CancelReservation): requested with our own id,
settled by the box's answer, used by the session started on them, swept when expired, and
honoured by the remote-start rule."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chargers.models import ChargeBox, Connector, Reservation
from chargers.tasks import reservations_sweep
from commands.effects import reserve_now
from commands.models import Command
from commands.services import remote_start_issue
from transactions.services import transaction_start

pytestmark = pytest.mark.django_db

ACCEPTED = {"status": "Accepted"}


def later(hours=2) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


def reserve(send, box, answer=ACCEPTED, connector_id=1, id_tag="HOLDER", **extra):
    command = send(box, "ReserveNow", {"connectorId": connector_id, "expiryDate": later(), "idTag": id_tag, **extra},
                   answer)
    return command, Reservation.objects.filter(pk=command.payload.get("reservationId")).first()


def remote_start(box, id_tag, connector_id=1):
    return remote_start_issue(box=box, connector_id=connector_id, id_tag=id_tag, source="test")


class TestOurIds:
    def test_none_given_one_is_allocated_and_sent(self, box, send):
        command, reservation = reserve(send, box, answer=None)
        assert command.state == "queued"
        assert command.payload["reservationId"] == reservation.pk
        assert (reservation.state, reservation.connector_id, reservation.id_tag) == ("requested", 1, "HOLDER")

    def test_a_free_number_the_caller_gives_is_kept(self, box, send):
        _, reservation = reserve(send, box, answer=None, reservationId=4242)
        assert reservation.pk == 4242

    def test_a_number_already_used_is_replaced(self, box, send):
        _, first = reserve(send, box, answer=None, reservationId=77)
        command, second = reserve(send, box, answer=None, reservationId=77)
        assert second.pk != 77 and command.payload["reservationId"] == second.pk

    def test_allocation_skips_numbers_callers_chose(self, box, send):
        _, first = reserve(send, box, answer=None)
        # Callers took the next two numbers of the sequence for themselves.
        reserve(send, box, answer=None, reservationId=first.pk + 1)
        reserve(send, box, answer=None, reservationId=first.pk + 2)
        _, next_one = reserve(send, box, answer=None)
        assert next_one.pk == first.pk + 3

    def test_a_box_without_a_connection_gets_no_reservation(self, box, send):
        ChargeBox.objects.filter(pk=box.pk).update(connected_node="")
        box.refresh_from_db()
        command, reservation = reserve(send, box)
        assert command.error_description == "the charge box is not connected" and reservation is None
        assert not Reservation.objects.exists()

    def test_a_connector_that_cannot_exist_is_refused(self, box, send):
        command, _ = reserve(send, box, connector_id=-1)
        assert (command.state, command.error_description) == ("rejected", "there is no connector -1")


class TestTheBoxAnswer:
    def test_accepted(self, box, send):
        command, reservation = reserve(send, box)
        assert command.state == "accepted"
        assert (reservation.state, reservation.box_status) == ("accepted", "Accepted")

    @pytest.mark.parametrize("status", ["Faulted", "Occupied", "Rejected", "Unavailable"])
    def test_refusals_settle_it_as_rejected(self, box, send, status):
        command, reservation = reserve(send, box, {"status": status})
        assert command.state == "rejected"
        assert (reservation.state, reservation.box_status) == ("rejected", status)

    @pytest.mark.parametrize("outcome", [{"status": "timeout"}, {"status": "offline"}])
    def test_no_answer_leaves_it_requested(self, box, send, outcome):
        command = send(box, "ReserveNow", {"connectorId": 1, "expiryDate": later(), "idTag": "HOLDER"},
                       outcome=outcome)
        assert Reservation.objects.get(pk=command.payload["reservationId"]).state == "requested"

    def test_a_second_run_of_the_effect_changes_nothing(self, box, send):
        command, reservation = reserve(send, box)
        reservation_id = reservation.pk
        Reservation.objects.filter(pk=reservation_id).update(state="cancelled")
        reserve_now(command)
        assert Reservation.objects.get(pk=reservation_id).state == "cancelled"

    def test_cancel_accepted_cancels(self, box, send):
        _, reservation = reserve(send, box)
        assert send(box, "CancelReservation", {"reservationId": reservation.pk}, ACCEPTED).state == "accepted"
        reservation.refresh_from_db()
        assert reservation.state == "cancelled" and reservation.ended_at

    def test_cancel_rejected_changes_nothing(self, box, send):
        _, reservation = reserve(send, box)
        send(box, "CancelReservation", {"reservationId": reservation.pk}, {"status": "Rejected"})
        reservation.refresh_from_db()
        assert reservation.state == "accepted"


class TestUseAndExpiry:
    def test_a_session_started_on_it_uses_it(self, box, send):
        _, reservation = reserve(send, box)
        tx = transaction_start(box=box, connector_id=1, id_tag="HOLDER", meter_start_wh=0, timestamp=timezone.now(),
                               reservation_id=reservation.pk).transaction
        reservation.refresh_from_db()
        assert (reservation.state, reservation.transaction_id) == ("used", tx.id)

    def test_another_box_cannot_use_it(self, box, send, make_box):
        _, reservation = reserve(send, box)
        other = make_box("FX-2")
        transaction_start(box=other, connector_id=1, id_tag="HOLDER", meter_start_wh=0, timestamp=timezone.now(),
                          reservation_id=reservation.pk)
        reservation.refresh_from_db()
        assert reservation.state == "accepted"

    def test_the_sweep_expires_only_what_has_expired(self, box, send):
        _, past = reserve(send, box)
        _, future = reserve(send, box, connector_id=2)
        Reservation.objects.filter(pk=past.pk).update(expiry_date=timezone.now() - timedelta(seconds=1))
        assert reservations_sweep() == 1
        assert reservations_sweep() == 0
        assert Reservation.objects.get(pk=past.pk).state == "expired"
        assert Reservation.objects.get(pk=future.pk).state == "accepted"

    def test_a_start_reported_late_still_uses_an_expired_reservation(self, box, send):
        # The box started on it while offline and sent StartTransaction after our sweep.
        _, reservation = reserve(send, box)
        Reservation.objects.filter(pk=reservation.pk).update(state="expired")
        transaction_start(box=box, connector_id=1, id_tag="HOLDER", meter_start_wh=0,
                          timestamp=timezone.now() - timedelta(minutes=5), reservation_id=reservation.pk)
        assert Reservation.objects.get(pk=reservation.pk).state == "used"


class TestRemoteStartOnAReservedConnector:
    def test_another_id_tag_is_refused(self, box, send):
        reserve(send, box)
        command = remote_start(box, "SOMEONE")
        assert (command.state, command.error_description) == ("rejected", "the connector is reserved for another user")

    def test_the_holder_may_start(self, box, send):
        reserve(send, box)
        assert remote_start(box, "HOLDER").state == "queued"

    def test_a_member_of_the_reserved_group_may_start(self, box, send, make_tag):
        make_tag("FLEET-1")
        make_tag("DRIVER-7", parent="FLEET-1")
        make_tag("STRANGER")
        reserve(send, box, id_tag="DISPATCH", parentIdTag="FLEET-1")
        assert remote_start(box, "STRANGER").state == "rejected"
        assert remote_start(box, "DRIVER-7").state == "queued"

    def test_the_other_connector_is_free(self, box, send):
        reserve(send, box)
        assert remote_start(box, "SOMEONE", connector_id=2).state == "queued"

    @pytest.mark.parametrize("state", ["requested", "rejected", "cancelled", "used", "expired"])
    def test_only_an_accepted_reservation_holds_the_connector(self, box, send, state):
        _, reservation = reserve(send, box)
        Reservation.objects.filter(pk=reservation.pk).update(state=state)
        assert remote_start(box, "SOMEONE").state == "queued"

    def test_an_accepted_reservation_past_its_expiry_does_not_hold_it(self, box, send):
        _, reservation = reserve(send, box)
        Reservation.objects.filter(pk=reservation.pk).update(expiry_date=timezone.now() - timedelta(seconds=1))
        assert remote_start(box, "SOMEONE").state == "queued"

    def test_a_reserved_status_without_a_reservation_of_ours_is_the_box_to_judge(self, box):
        Connector.objects.filter(box=box, connector_id=1).update(status="Reserved")
        assert remote_start(box, "SOMEONE").state == "queued"

    def test_any_connector_reservation_keeps_one_connector_free(self, box, send):
        Connector.objects.filter(box=box, connector_id__in=[1, 2]).update(status="Available")
        reserve(send, box, connector_id=0)
        # Connector 2 stays available for the holder: connector 1 may go to someone else.
        assert remote_start(box, "SOMEONE", connector_id=1).state == "queued"
        Command.objects.update(claim_until=None)
        Connector.objects.filter(box=box, connector_id=1).update(status="Charging")
        # Now connector 2 is the last one free: only the holder may have it.
        assert remote_start(box, "SOMEONE", connector_id=2).error_description == (
            "the connector is reserved for another user")
        assert remote_start(box, "HOLDER", connector_id=2).state == "queued"
