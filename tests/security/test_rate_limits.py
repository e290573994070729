"""Rate limits from outside: a box that floods its OCPP connection is answered CALLERROR and keeps its
connection; an API token or a forward-API client beyond its rate gets 429 with Retry-After; a box at
a normal pace is never limited. The server runs with low limits (tests_security_kit.LIMITS)."""

from __future__ import annotations

import json
import time

import pytest
from websockets.sync.client import connect

from tests_security_kit import BOX_ADDRESS, Http

pytestmark = pytest.mark.django_db(transaction=True)


class Box:
    def __init__(self, base_url: str, serial: str):
        self.url, self.n = base_url.replace("http", "ws") + f"/ocpp/{serial}", 0

    def __enter__(self):
        self.ws = connect(self.url, subprotocols=["ocpp1.6"], source_address=(BOX_ADDRESS, 0),
                          open_timeout=10).__enter__()
        return self

    def __exit__(self, *exc):
        self.ws.__exit__(*exc)

    def call(self, action: str, payload: dict) -> list:
        self.n += 1
        self.ws.send(json.dumps([2, str(self.n), action, payload]))
        answer = json.loads(self.ws.recv(timeout=10))
        assert answer[1] == str(self.n)
        return answer


def test_a_flooding_box_is_answered_callerror_and_keeps_its_connection(limited_server, make_box):
    make_box("RL-FLOOD")
    with Box(limited_server, "RL-FLOOD") as box:
        answers = [box.call("Heartbeat", {}) for _ in range(12)]  # burst 5, then 2 a second
        refused = [a for a in answers if a[0] == 4]
        assert [a[0] for a in answers[:5]] == [3] * 5 and len(refused) >= 5
        code, description, details = refused[0][2:]
        assert code == "GenericError" and description.startswith("rate limit: more than 2 messages a second")
        assert 0 < details["retryAfter"] <= 0.5
        time.sleep(1.1)  # the bucket refills: the same connection is served again
        assert box.call("Heartbeat", {})[0] == 3


def test_a_flood_of_broken_frames_is_limited_too(limited_server, make_box):
    make_box("RL-GARBAGE")
    with Box(limited_server, "RL-GARBAGE") as box:
        answers = []
        for n in range(10):
            box.ws.send(f'[2, "g{n}", "Heartbeat"]')  # a CALL without its payload
            answers.append(json.loads(box.ws.recv(timeout=10)))
        assert {a[2] for a in answers[:5]} == {"ProtocolError"}  # OCPP-J 1.6 §4.2.3
        assert answers[-1][:3] == [4, "g9", "GenericError"] and answers[-1][3].startswith("rate limit")


def test_a_box_at_its_pace_is_never_limited_while_another_floods(limited_server, make_box):
    make_box("RL-CALM")
    make_box("RL-LOUD")
    with Box(limited_server, "RL-CALM") as calm, Box(limited_server, "RL-LOUD") as loud:
        for _ in range(8):
            for _ in range(4):
                loud.call("Heartbeat", {})
            assert calm.call("Heartbeat", {})[0] == 3
            time.sleep(0.5)  # 2 a second: the rate


def test_an_api_token_beyond_its_rate_gets_429_with_retry_after(limited_server, make_box):
    from django.contrib.auth.models import Permission, User

    from staff import token_for

    make_box("RL-API")
    user = User.objects.create(username="rl-api")
    user.user_permissions.add(Permission.objects.get(codename="use_command_api"))
    token = token_for(user)
    client = Http(limited_server)
    statuses = [client.json("GET", "/api/v1/boxes/RL-API", headers={"Authorization": f"Token {token}"})
                for _ in range(6)]
    assert [s[0] for s in statuses[:4]] == [200] * 4
    status, headers, body = statuses[-1]
    assert status == 429 and int(headers["Retry-After"]) >= 1 and "requests a second" in body["detail"]


def test_a_forward_api_client_beyond_its_rate_gets_429_in_the_api_form(limited_server, make_box):
    make_box("RL-REST")
    client = Http(limited_server)
    answers = [client.json("POST", "/evchong-api/cperent/v1/heartbeat", {"chargeBoxSerialNumber": "RL-REST"})
               for _ in range(10)]
    assert [a[0] for a in answers[:8]] == [200] * 8
    status, headers, body = answers[-1]
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert body["error"] == "too many requests" and "requests a second" in body["problem"]


def test_the_reverse_api_beyond_a_tokens_rate_answers_429_in_its_own_form(limited_server, make_box):
    from django.contrib.auth.models import Permission, User

    from staff import token_for

    make_box("RL-REV")
    user = User.objects.create(username="rl-rev")
    user.user_permissions.add(Permission.objects.get(codename="use_command_api"))
    token = token_for(user)
    client = Http(limited_server)
    answers = [client.json("POST", "/evchong-api/reverse/v1/Reset", {"chargeBoxSerialNumber": "RL-REV", "type": "Soft"},
                           {"Authorization": f"Token {token}"}) for _ in range(6)]
    assert [a[0] for a in answers[:4]] == [200] * 4  # Rejected: the box is not connected, but served
    status, headers, body = answers[-1]
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert body["status"] == "Rejected" and "requests a second" in body["message"]
