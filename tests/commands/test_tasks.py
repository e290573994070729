"""Celery tasks of the command path: delivery runs once whatever the redeliveries, and the sweep
ends what a dead server left open."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chargers.models import ChargeBox
from commands.models import Command, CommandState
from commands.services import command_issue
from commands.tasks import deliver_command, sweep_commands
from simbox import SimBox


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_task_sends_nothing_twice(live_server_url, make_box, wait_for):
    make_box("TK-1")
    with SimBox(live_server_url, "TK-1", {"ClearCache": {"status": "Accepted"}}) as box:
        command = command_issue(box=ChargeBox.objects.get(serial="TK-1"), action="ClearCache", payload={})
        # Late acknowledgement means a worker that dies after sending gets its task run again.
        for _ in range(3):
            deliver_command.apply(args=[command.pk])
        wait_for(lambda: Command.objects.get(pk=command.pk).state == CommandState.ACCEPTED)
        assert box.wait_for_calls(1) == [("ClearCache", {})]
        box.wait_for_calls(2, timeout=1)
        assert len(box.calls) == 1


@pytest.mark.django_db
def test_sweep_times_out_commands_left_open_and_drops_expired_claims(make_box):
    box = make_box("TK-2", connectors=1)
    long_ago = timezone.now() - timedelta(hours=1)
    stale = Command.objects.create(box=box, action="Reset", payload={"type": "Soft"}, state=CommandState.SENT)
    fresh = Command.objects.create(box=box, action="Reset", payload={"type": "Soft"}, state=CommandState.SENT)
    claim = Command.objects.create(box=box, action="RemoteStartTransaction", state=CommandState.ACCEPTED,
                                   connector=box.connectors.get(connector_id=1), claim_until=long_ago)
    Command.objects.filter(pk=stale.pk).update(created=long_ago)
    assert sweep_commands() == 1
    assert Command.objects.get(pk=stale.pk).state == CommandState.TIMED_OUT
    assert Command.objects.get(pk=fresh.pk).state == CommandState.SENT
    assert Command.objects.get(pk=claim.pk).claim_until is None


@pytest.mark.django_db
def test_delivery_to_a_box_that_went_away_fails_the_command(make_box):
    box = make_box("TK-3")
    ChargeBox.objects.filter(pk=box.pk).update(protocol="ocpp1.6", connected_node="n1")
    command = command_issue(box=ChargeBox.objects.get(pk=box.pk), action="ClearCache", payload={})
    ChargeBox.objects.filter(pk=box.pk).update(connected_node="")
    deliver_command.apply(args=[command.pk])
    command.refresh_from_db()
    assert (command.state, command.error_description) == ("failed", "the charge box is not connected")
