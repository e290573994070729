"""Of N concurrent remote starts on one connector exactly one is issued (EVCHONG 1 g), decided
under a row lock in PostgreSQL; the others are recorded as refused, saying why."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from chargers.models import ChargeBox, Connector
from commands.models import Command, CommandState
from commands.outcomes import Outcome
from commands.services import command_issue, command_settle, remote_start_issue, remote_stop_issue
from transactions.services import transaction_start


@pytest.fixture
def box(make_connected_box):
    return make_connected_box("RS-1")


def issue(box, connector_id=1, tag="CARD"):
    return remote_start_issue(box=box, connector_id=connector_id, id_tag=tag, source="test")


@pytest.mark.django_db(transaction=True)
def test_thirty_concurrent_starts_issue_exactly_one(box):
    barrier = threading.Barrier(30)

    def one(n):
        barrier.wait()
        try:
            return issue(ChargeBox.objects.get(pk=box.pk), tag=f"CARD{n}").state
        finally:
            connection.close()

    with ThreadPoolExecutor(30) as pool:
        states = list(pool.map(one, range(30)))
    assert states.count(CommandState.QUEUED) + states.count(CommandState.SENT) == 1
    assert states.count(CommandState.REJECTED) == 29
    refused = Command.objects.filter(state=CommandState.REJECTED)
    assert {c.error_description for c in refused} == {"another remote start is pending on this connector"}


@pytest.mark.django_db
class TestRefusals:
    def test_connector_in_use(self, box):
        transaction_start(box=box, connector_id=1, id_tag="X", meter_start_wh=0, timestamp=timezone.now())
        assert issue(box).error_description == "the connector is in use by another user"

    @pytest.mark.parametrize("status, why", [("Faulted", "the connector is faulted"),
                                             ("Unavailable", "the connector is unavailable"),
                                             ("Charging", "the connector is in use by another user")])
    def test_connector_states(self, box, status, why):
        Connector.objects.filter(box=box, connector_id=1).update(status=status)
        command = issue(box)
        assert (command.state, command.error_code, command.error_description) == ("rejected", "Refused", why)

    def test_other_connector_is_free(self, box):
        assert issue(box, 1).state == CommandState.QUEUED
        assert issue(box, 2).state == CommandState.QUEUED

    def test_unknown_connector(self, box):
        assert "no connector 9" in issue(box, 9).error_description

    def test_box_not_connected(self, box):
        ChargeBox.objects.filter(pk=box.pk).update(connected_node="")
        box.refresh_from_db()
        assert issue(box).error_description == "the charge box is not connected"

    def test_rest_only_box_has_no_command_channel(self, box):
        ChargeBox.objects.filter(pk=box.pk).update(protocol="evchong")
        box.refresh_from_db()
        assert issue(box).error_description == "the charge box speaks EVCHONG REST, which has no channel for commands"


@pytest.mark.django_db
class TestClaimLifetime:
    def test_box_refusal_frees_the_connector(self, box):
        first = issue(box)
        command_settle(command_id=first.pk, outcome=Outcome.answered({"status": "Rejected"}))
        assert Command.objects.get(pk=first.pk).state == CommandState.REJECTED
        assert issue(box).state == CommandState.QUEUED

    def test_accepted_start_holds_the_claim_until_start_transaction(self, box):
        first = issue(box)
        command_settle(command_id=first.pk, outcome=Outcome.answered({"status": "Accepted"}))
        assert issue(box).state == CommandState.REJECTED
        transaction_start(box=box, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=timezone.now())
        assert Command.objects.get(pk=first.pk).claim_until is None

    def test_expired_claim_frees_the_connector(self, box):
        first = issue(box)
        Command.objects.filter(pk=first.pk).update(claim_until=timezone.now() - timedelta(seconds=1))
        assert issue(box).state == CommandState.QUEUED

    def test_outcome_is_recorded_once(self, box):
        first = issue(box)
        command_settle(command_id=first.pk, outcome=Outcome.timeout())
        command_settle(command_id=first.pk, outcome=Outcome.answered({"status": "Accepted"}))
        assert Command.objects.get(pk=first.pk).state == CommandState.TIMED_OUT


@pytest.mark.django_db
class TestRemoteStop:
    def test_unknown_and_stopped_sessions_are_refused(self, box):
        assert "unknown transaction 77" in remote_stop_issue(box=box, transaction_id=77).error_description
        tx = transaction_start(box=box, connector_id=1, id_tag="X", meter_start_wh=0, timestamp=timezone.now())
        tx.transaction.stopped_at = timezone.now()
        tx.transaction.save()
        assert remote_stop_issue(box=box, transaction_id=tx.transaction.pk).error_description == (
            "the charging session has already stopped")

    def test_an_accepted_stop_is_in_flight_until_the_box_stops(self, box):
        tx = transaction_start(box=box, connector_id=1, id_tag="X", meter_start_wh=0, timestamp=timezone.now())
        first = remote_stop_issue(box=box, transaction_id=tx.transaction.pk)
        command_settle(command_id=first.pk, outcome=Outcome.answered({"status": "Accepted"}))
        assert remote_stop_issue(box=box, transaction_id=tx.transaction.pk).state == CommandState.REJECTED

    def test_a_refused_stop_may_be_tried_again(self, box):
        tx = transaction_start(box=box, connector_id=1, id_tag="X", meter_start_wh=0, timestamp=timezone.now())
        first = remote_stop_issue(box=box, transaction_id=tx.transaction.pk)
        command_settle(command_id=first.pk, outcome=Outcome.answered({"status": "Rejected"}))
        assert remote_stop_issue(box=box, transaction_id=tx.transaction.pk).state == CommandState.QUEUED

    def test_one_stop_in_flight(self, box):
        tx = transaction_start(box=box, connector_id=1, id_tag="X", meter_start_wh=0, timestamp=timezone.now())
        assert remote_stop_issue(box=box, transaction_id=tx.transaction.pk).state == CommandState.QUEUED
        second = remote_stop_issue(box=box, transaction_id=tx.transaction.pk)
        assert second.error_description == "a stop is already in flight for this session"


@pytest.mark.django_db(transaction=True)
def test_waiting_longer_than_redis_default_read_timeout(box):
    """redis-py cuts reads at 5 s by default; a caller waiting 8 s must still get a 6 s answer."""
    import asyncio
    import time

    from commands.replies import command_wait, command_wait_async

    first, second = issue(box, 1), issue(box, 2)

    def answer_later(command):
        time.sleep(6)
        command_settle(command_id=command.pk, outcome=Outcome.answered({"status": "Accepted"}))
        connection.close()

    for command, wait in ((first, lambda: asyncio.run(command_wait_async(first.pk, 8))),
                          (second, lambda: command_wait(second, 8))):
        answerer = threading.Thread(target=answer_later, args=(command,))
        began = time.monotonic()
        answerer.start()
        wait()
        answerer.join()
        assert 5.5 < time.monotonic() - began < 7.5
        assert Command.objects.get(pk=command.pk).state == CommandState.ACCEPTED


@pytest.mark.django_db
@pytest.mark.parametrize("answer, state", [("Accepted", "accepted"), ("Scheduled", "accepted"),
                                           ("Rejected", "rejected")])
def test_change_availability_scheduled_is_accepted(box, answer, state):
    """OCPP 1.6 §5.2: Scheduled means accepted, carried out when the running session ends."""
    command = command_issue(box=box, action="ChangeAvailability", payload={"connectorId": 1, "type": "Inoperative"})
    command_settle(command_id=command.pk, outcome=Outcome.answered({"status": answer}))
    assert Command.objects.get(pk=command.pk).state == state
