"""Waking a command's waiter through Redis: one client per process, and a push that fails never
undoes or hides an outcome already committed."""

import threading
import time

import pytest
import redis

from commands import replies as services
from commands.models import Command, CommandState
from commands.outcomes import Outcome
from commands.services import command_settle


def test_threads_that_meet_no_client_share_the_one_made(monkeypatch):
    # A client made and dropped in a race closes its pool when collected, under whoever still
    # uses one of its connections; so the first burst of threads must all get one client.
    monkeypatch.setattr(services, "_redis_clients", {})
    made = redis.Redis.from_url

    def slow_to_make(*args, **kwargs):  # widens the window a race needs, as a busy process does
        time.sleep(0.01)
        return made(*args, **kwargs)

    monkeypatch.setattr(redis.Redis, "from_url", slow_to_make)
    start, clients = threading.Barrier(16), []

    def first_use():
        start.wait()
        clients.append(services._redis(services._PUSH_READ_TIMEOUT))

    threads = [threading.Thread(target=first_use) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(clients) == 16 and len({id(client) for client in clients}) == 1
    # A wake-up that Redis stalls fails in seconds, not after the waits' five minutes.
    assert clients[0].connection_pool.connection_kwargs["socket_timeout"] == services._PUSH_READ_TIMEOUT


@pytest.mark.django_db(transaction=True)  # the waiters are woken after the commit
def test_an_outcome_whose_waiter_cannot_be_woken_is_stored_all_the_same(make_connected_box, monkeypatch, caplog):
    box = make_connected_box("RP-1")
    command = Command.objects.create(box=box, action="Reset", payload={"type": "Soft"}, state=CommandState.SENT)

    class RedisGone:
        def pipeline(self):
            raise redis.ConnectionError("Connection closed by server.")

    monkeypatch.setattr(services, "_redis", lambda read_timeout: RedisGone())
    settled = command_settle(command_id=command.pk, outcome=Outcome.answered({"status": "Accepted"}))
    assert settled.state == CommandState.ACCEPTED
    command.refresh_from_db()
    assert (command.state, command.response) == (CommandState.ACCEPTED, {"status": "Accepted"})
    assert "their waiters could not be woken" in caplog.text


def test_an_outcome_that_cannot_be_recorded_leaves_the_box_connected(monkeypatch, caplog):
    # The consumer reports outcomes in the box's own connection handler: anything recording one
    # raises is logged there, never let out to close the box's connection.
    import asyncio

    from ocpp16 import consumer

    def broken(**kwargs):
        raise RuntimeError("a bug of the recording")

    monkeypatch.setattr(consumer, "command_settle", broken)
    call = consumer.OutgoingCall("Reset", {"type": "Soft"}, 7, time.time() + 5)
    asyncio.run(consumer.OcppConsumer().report(call, Outcome.timeout()))
    assert "command 7: its outcome could not be recorded" in caplog.text
