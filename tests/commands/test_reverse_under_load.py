"""What keeps the reverse API answering under load (docs/performance.md): a bounded number of issue
steps at once, HTTP 503 with Retry-After (nothing sent) when no slot comes in time, tokens
remembered briefly, and replies that carry the outcome so that a waiter needs no database read."""

import asyncio
import threading

import pytest
from django.test import Client

from commands.models import Command, CommandState
from commands.outcomes import Outcome
from commands.replies import command_wait_async
from commands.services import command_settle, remote_start_issue
from core.db import Busy, DatabaseSlots
from security.authentication import ApiTokenAuthentication

URL = "/evchong-api/reverse/v1/"


@pytest.fixture
def box(make_connected_box):
    return make_connected_box("LD-1")


def reset(backend_token):
    return Client(HTTP_AUTHORIZATION=f"Token {backend_token}").post(
        URL + "Reset", {"chargeBoxSerialNumber": "LD-1", "type": "Soft"}, content_type="application/json")


async def test_slots_bound_the_steps_and_a_caller_out_of_patience_is_busy():
    slots = DatabaseSlots(1)
    inside, leave = threading.Event(), threading.Event()

    def hold():
        inside.set()
        leave.wait(5)
        return "done"

    first = asyncio.create_task(slots.run(hold, patience=1))
    await asyncio.get_running_loop().run_in_executor(None, inside.wait, 5)
    with pytest.raises(Busy):
        await slots.run(lambda: "never", patience=0.05)
    leave.set()
    assert await first == "done"
    # The slot is free again, and a caller that waits long enough gets it.
    assert await slots.run(lambda: "next", patience=1) == "next"


def test_no_issue_slot_in_time_is_503_with_retry_after_and_sends_nothing(box, backend_token, monkeypatch):
    from evchong_api import reverse

    monkeypatch.setattr(reverse, "ISSUE_SLOTS", DatabaseSlots(0))
    response = reset(backend_token)
    assert response.status_code == 503
    assert response["Retry-After"] == str(reverse.BUSY_RETRY_AFTER)
    assert response.json()["status"] == "Rejected"
    assert not Command.objects.exists()


def test_a_token_is_remembered_for_a_few_seconds_only(box, backend_token, settings, monkeypatch):
    from staff import token_revoke_all

    monkeypatch.setattr(ApiTokenAuthentication, "_remembered", {})
    settings.API_TOKEN_CACHE_SECONDS = 60
    assert reset(backend_token).status_code == 200
    token_revoke_all(backend_token)
    assert reset(backend_token).status_code == 200  # within the time it is remembered
    monkeypatch.setattr(ApiTokenAuthentication, "_remembered", {})  # ... which has passed
    assert reset(backend_token).status_code == 401


def test_with_no_cache_time_a_revoked_token_is_refused_at_once(box, backend_token, settings, monkeypatch):
    from staff import token_revoke_all

    monkeypatch.setattr(ApiTokenAuthentication, "_remembered", {})
    settings.API_TOKEN_CACHE_SECONDS = 0
    assert reset(backend_token).status_code == 200
    token_revoke_all(backend_token)
    assert reset(backend_token).status_code == 401


def test_the_reply_carries_the_outcome_a_waiter_answers_with(box, django_capture_on_commit_callbacks):
    command = remote_start_issue(box=box, connector_id=1, id_tag="CARD", source="test")
    with django_capture_on_commit_callbacks(execute=True):  # the waiter is woken once the outcome commits
        command_settle(command_id=command.pk, outcome=Outcome.answered({"status": "Rejected"}))
    answered = asyncio.run(command_wait_async(command.pk, 1))
    assert (answered.pk, answered.state, answered.response) == (command.pk, CommandState.REJECTED, {"status": "Rejected"})


def test_no_reply_in_time_is_none(box):
    command = remote_start_issue(box=box, connector_id=1, id_tag="CARD", source="test")
    assert asyncio.run(command_wait_async(command.pk, 0.05)) is None


def test_more_waiters_than_redis_pys_default_pool_all_get_their_reply():
    import redis
    from django.conf import settings

    from commands.replies import reply_key

    ids = range(10**9, 10**9 + 150)  # redis-py's default pool raised MaxConnectionsError past 100

    async def wait_all():
        async def push():
            await asyncio.sleep(0.3)
            pipe = redis.Redis.from_url(settings.REDIS_URL).pipeline()
            for pk in ids:
                pipe.rpush(reply_key(pk), b'{"state": "accepted"}')
            pipe.execute()

        return (await asyncio.gather(push(), *(command_wait_async(pk, 5) for pk in ids)))[1:]

    answered = asyncio.run(wait_all())
    assert [command.state for command in answered] == [CommandState.ACCEPTED] * len(ids)
