"""The reverse API's lean ASGI path (evchong_api.reverse.ReverseAPI) answers every request exactly
as the DRF views behind Django do: same status, body and challenge, through the same code."""

import json

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from core.db import DatabaseSlots
from evchong_api.reverse import PREFIX, ReverseAPI


@pytest.fixture
def engineer_token(field_engineer):
    from staff import token_for

    return token_for(field_engineer)


@pytest.fixture(autouse=True)
def box(make_box, make_tag):
    make_tag("CARD")
    return make_box("LF-1", connectors=2)  # registered, never connected: commands are refused


class Fallback:
    def __init__(self):
        self.calls = []

    async def __call__(self, scope, receive, send):
        self.calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 405, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def lean(method: str, body: bytes, headers: dict, app=None, http_method="POST"):
    app = app or ReverseAPI(Fallback(), own_threads=False)  # in the test's transaction

    async def run():
        sent, incoming = [], [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return incoming.pop(0) if incoming else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": http_method, "path": PREFIX + method,
                 "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
        await app(scope, receive, send)
        return sent

    start, content = async_to_sync(run)()
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, json.loads(content["body"]) if content["body"] else None


def django(method: str, body: bytes, headers: dict):
    extra = {f"HTTP_{k.upper()}": v for k, v in headers.items() if k.lower() != "content-type"}
    response = Client().post(PREFIX + method, body, content_type=headers.get("Content-Type", "application/json"),
                             **extra)
    return response.status_code, response, response.json()


def same(method, document, authorization, content_type="application/json"):
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    headers = {"Content-Type": content_type, **({"Authorization": authorization} if authorization else {})}
    code, got_headers, answer = lean(method, body, headers)
    django_code, response, django_answer = django(method, body, headers)
    assert (code, answer) == (django_code, django_answer)
    assert got_headers.get("www-authenticate") == response.get("WWW-Authenticate")
    assert got_headers["content-type"] == "application/json"
    return code, answer


RESET = {"chargeBoxSerialNumber": "LF-1", "type": "Soft"}


def test_no_or_wrong_token(backend_token):
    assert same("Reset", RESET, "")[0] == 401
    assert same("Reset", RESET, "Token nope")[0] == 401
    assert same("Reset", RESET, "Token")[0] == 401
    assert same("Reset", RESET, "Basic Zm9vOmJhcg==")[0] == 401


def test_refusals_of_what_a_user_may_send(backend_token, engineer_token):
    from django.contrib.auth import get_user_model
    from staff import token_for

    nobody = token_for(get_user_model().objects.create(username="nobody"))
    assert same("Reset", RESET, f"Token {nobody}")[0] == 403
    code, answer = same("Reset", {**RESET, "type": "Hard"}, f"Token {engineer_token}")
    assert code == 403 and "Hard" in answer["message"]


@pytest.mark.parametrize("method, document", [
    ("RemoteStartTransaction", {"chargeBoxSerialNumber": "LF-1", "idTag": "CARD"}),
    ("RemoteStopTransaction", {"chargeBoxSerialNumber": "LF-1", "transactionId": "x"}),
    ("UpdateFirmware", {"chargeBoxSerialNumber": "LF-1", "location": "ftp://fw/a.bin", "retrieveDate": "never"}),
    ("Reset", {}),
    ("Reset", b""),
    ("Reset", b"not json at all"),
])
def test_invalid_requests(backend_token, method, document):
    code, answer = same(method, document, f"Token {backend_token}")
    assert code == 400 and answer["status"] == "Rejected"


@pytest.mark.parametrize("method, document", [
    ("Reset", {"chargeBoxSerialNumber": "NOBODY", "type": "Soft"}),
    ("Reset", RESET),
    ("RemoteStartTransaction", {"chargeBoxSerialNumber": "LF-1", "connectorId": 1, "idTag": "CARD"}),
    ("UpdateFirmware", {"chargeBoxSerialNumber": "LF-1", "location": "ftp://fw/a.bin",
                        "retrieveDate": "2026-12-01 02:00:00"}),
])
def test_answers_without_a_box(backend_token, method, document):
    code, answer = same(method, document, f"Token {backend_token}")
    assert code == 200 and answer["status"] == "Rejected"


def test_the_spec_envelope_as_a_form_field(backend_token):
    body = b'data={"chargeBoxSerialNumber":"LF-1","type":"Soft"}'
    code, answer = same("Reset", body, f"Token {backend_token}", content_type="application/x-www-form-urlencoded")
    assert code == 200 and answer["message"] == "the charge box is not connected"


def test_busy_is_503_with_retry_after(backend_token, monkeypatch):
    from evchong_api import reverse

    monkeypatch.setattr(reverse, "ISSUE_SLOTS", DatabaseSlots(0))
    code, headers, answer = lean("Reset", json.dumps(RESET).encode(), {"Authorization": f"Token {backend_token}"})
    assert (code, headers["retry-after"], answer["status"]) == (503, str(reverse.BUSY_RETRY_AFTER), "Rejected")


def test_other_requests_go_on_to_django(backend_token):
    fallback = Fallback()
    app = ReverseAPI(fallback, own_threads=False)
    assert lean("Reset", b"", {}, app=app, http_method="GET")[0] == 405
    assert lean("Nothing", b"{}", {}, app=app)[0] == 405
    assert lean("Reset", b"--x", {"Content-Type": "multipart/form-data; boundary=x"}, app=app)[0] == 405
    assert fallback.calls == [PREFIX + "Reset", PREFIX + "Nothing", PREFIX + "Reset"]
