"""Committed commands go to the workers in batches (commands.dispatch), each once and in order,
and a broker that is away fails them instead of leaving them queued."""

import threading
import time

import pytest

from chargers.models import ChargeBox
from commands import services
from commands.dispatch import BATCH_MAX, Dispatcher
from commands.models import Command, CommandState
from commands.services import command_claim_delivery, command_issue
from commands.tasks import deliver_commands
from simbox import SimBox


def test_every_id_is_published_once_in_order_and_bursts_share_messages():
    published: list[list[int]] = []

    def slow_publish(ids):
        time.sleep(0.01)  # as a broker round trip: ids added meanwhile gather for the next message
        published.append(ids)

    dispatcher = Dispatcher(slow_publish, fail=lambda ids: None)
    threads = [threading.Thread(target=lambda base=base: [dispatcher.add(base + i) for i in range(100)])
               for base in range(0, 800, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert dispatcher.flush(timeout=10)
    ids = [command_id for batch in published for command_id in batch]
    assert sorted(ids) == list(range(800))
    for base in range(0, 800, 100):  # each thread's ids in the order it added them
        assert [i for i in ids if base <= i < base + 100] == list(range(base, base + 100))
    assert all(len(batch) <= BATCH_MAX for batch in published)
    assert len(published) < 800 / 2


def test_a_lone_command_is_published_at_once():
    published = threading.Event()
    dispatcher = Dispatcher(lambda ids: published.set(), fail=lambda ids: None)
    started = time.monotonic()
    dispatcher.add(1)
    assert published.wait(5)
    assert time.monotonic() - started < 2  # no lingering for company


@pytest.mark.django_db(transaction=True)
def test_commands_the_broker_cannot_take_fail_saying_so(make_box):
    box = make_box("DS-1")
    commands = [Command.objects.create(box=box, action="ClearCache", payload={}) for _ in range(2)]
    # A publish that raised may still have reached the broker, and a worker sent this one already.
    sent = Command.objects.create(box=box, action="ClearCache", payload={}, state=CommandState.SENT)

    def broker_away(ids):
        raise ConnectionError("broker unavailable")

    dispatcher = Dispatcher(broker_away, fail=services._undelivered)  # as commands.services makes it
    for command in [*commands, sent]:
        dispatcher.add(command.pk)
    assert dispatcher.flush(timeout=10)
    for command in commands:
        command.refresh_from_db()
        assert command.state == CommandState.FAILED
        assert "could not be handed to the workers" in command.error_description
    sent.refresh_from_db()
    assert sent.state == CommandState.SENT
    published = threading.Event()  # and the dispatcher goes on with the commands that come next
    dispatcher._publish = lambda ids: published.set()
    dispatcher.add(10**9)
    assert published.wait(5)


@pytest.mark.django_db
def test_a_claim_takes_only_queued_commands(make_box):
    box = make_box("DS-2")
    queued = Command.objects.create(box=box, action="ClearCache", payload={})
    sent = Command.objects.create(box=box, action="ClearCache", payload={}, state=CommandState.SENT)
    claimed = command_claim_delivery([sent.pk, queued.pk, 0])
    assert [command.pk for command in claimed] == [queued.pk]
    assert claimed[0].box.serial == "DS-2"
    assert command_claim_delivery([queued.pk]) == []  # a redelivered task sends nothing twice


@pytest.mark.django_db(transaction=True)
def test_one_message_delivers_several_commands_to_a_box_in_the_order_issued(live_server_url, make_box, wait_for):
    make_box("DS-3")
    answers = {"ClearCache": {"status": "Accepted"}, "UnlockConnector": {"status": "Unlocked"}}
    with SimBox(live_server_url, "DS-3", answers) as box:
        issued = [command_issue(box=ChargeBox.objects.get(serial="DS-3"), action=action, payload=payload)
                  for action, payload in [("ClearCache", {}), ("UnlockConnector", {"connectorId": 1}),
                                          ("ClearCache", {})]]
        deliver_commands.apply(args=[[command.pk for command in issued]])
        wait_for(lambda: all(Command.objects.get(pk=c.pk).state == CommandState.ACCEPTED for c in issued))
        assert box.wait_for_calls(3) == [("ClearCache", {}), ("UnlockConnector", {"connectorId": 1}),
                                         ("ClearCache", {})]
