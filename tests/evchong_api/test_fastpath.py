"""The lean path (evchong_api.fastpath) answers exactly as the DRF views do: same status, same
JSON, same Content-Type, for every method, envelope and kind of error. The conformance suite
drives it end to end through daphne; here each request goes both ways and the answers are compared."""

import base64
from urllib.parse import urlencode

import orjson
import pytest
from asgiref.sync import async_to_sync, sync_to_async

from chargers.models import JournalEntry
from inbound.edge import Message
from inbound.pipeline import batch_write
from evchong_api.fastpath import ForwardAPI

BASE = "/evchong-api/cperent/v1/"
# Answers that say what time it is differ between two requests by nature.
CLOCK_FIELDS = ("currentTime", "timestamp")


class Answer:
    def __init__(self, status, headers, body):
        self.status_code, self.headers, self.content = status, headers, body

    def json(self):
        return orjson.loads(self.content)


async def _django_says_404(scope, receive, send):
    await send({"type": "http.response.start", "status": 404, "headers": [(b"x-delegated", b"1")]})
    await send({"type": "http.response.body", "body": b""})


async def _written_here(message: Message) -> Message:
    """A batch of one, in the test's own thread, so that the lean path sees the test's transaction."""
    await sync_to_async(batch_write)([message])
    return message


lean = ForwardAPI(_django_says_404, submit=_written_here)


def post_lean(path, body: bytes, content_type: str, authorization: str = "") -> Answer:
    headers = [(b"content-type", content_type.encode())]
    if authorization:
        headers.append((b"authorization", authorization.encode()))
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    async_to_sync(lean)(scope, receive, send)
    start, content = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return Answer(start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, content)


ENVELOPES = {
    "form": lambda text: (urlencode({"data": text}).encode(), "application/x-www-form-urlencoded"),
    "raw-data": lambda text: (("data=" + text).encode(), "text/plain"),
    "json": lambda text: (text.encode(), "application/json"),
    "json-member": lambda text: (orjson.dumps({"data": orjson.loads(text)}), "application/json; charset=utf-8"),
}

GOOD = {
    "deviceBoot": {"chargeBoxSerialNumber": "BOX-1", "chargePointSerialNumber": "ST-1", "chargePointVendor": "V"},
    "authorize": {"authReq": {"idToken": {"idToken": "TAG"},
                              "chargeBoxSerialNumber": {"chargeBoxSerialNumber": "BOX-1"}}},
    "heartbeat": {"chargeBoxSerialNumber": "BOX-1"},
    "meterValues": {"chargeBoxSerialNumber": "BOX-1", "connectorId": 1, "transactionId": -1, "values": [
        {"timestamp": 1425289031076, "value": "12.5", "measurand": "Energy_Active_Import_Register", "unit": "Wh"}]},
    "statusNotify": {"chargeBoxSerialNumber": "BOX-1", "connectorId": 1, "status": "Available", "errorCode": "NoError",
                     "vendorId": "", "vendorErrorCode": "", "timestamp": 1425289031076, "transcationId": ""},
    "firmwareStatusNotify": {"chargeBoxSerialNumber": "BOX-1", "status": "Downloading"},
}
BAD = [
    ("heartbeat", "hello"),                                             # no envelope at all
    ("heartbeat", "{}"),                                                # no serial
    ("heartbeat", '{"chargeBoxSerialNumber": "NOBODY"}'),               # unknown box: 403
    ("deviceBoot", '{"chargeBoxSerialNumber": "NOBODY", "chargePointSerialNumber": "S", "chargePointVendor": "V"}'),
    ("meterValues", '{"chargeBoxSerialNumber": "BOX-1", "connectorId": "x", "transactionId": 1, "values": [{}]}'),
    ("startTrans", '{"chargeBoxSerialNumber": "BOX-1", "connectorId": 1, "idTag": "TAG", "meterStart": 0, '
                   '"timestamp": 1425}'),
    ("stopTrans", '{"chargeBoxSerialNumber": "BOX-1", "transactionId": 999, "meterStop": 1, "timestamp": '
                  '1425289031076, "transactionData": {"values": []}}'),
]


@pytest.fixture(autouse=True)
def world(make_box, make_tag):
    make_box("BOX-1")
    make_box("LOCKED", password="s3cret")
    make_tag("TAG")


def same(lean_answer: Answer, django_answer) -> None:
    assert lean_answer.status_code == django_answer.status_code, (lean_answer.content, django_answer.content)
    assert lean_answer.headers["content-type"] == django_answer["Content-Type"]
    expected, got = django_answer.json(), lean_answer.json()
    for body in (expected, got):
        for name in CLOCK_FIELDS:
            if name in body:
                body[name] = "now"
    assert got == expected


def both(evchong, method, body: bytes, content_type: str, authorization: str = ""):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    django_answer = evchong.http.post(BASE + method, body, content_type=content_type, **extra)
    return post_lean(BASE + method, body, content_type, authorization), django_answer


@pytest.mark.parametrize("envelope", ENVELOPES)
@pytest.mark.parametrize("method", GOOD)
def test_answers_are_the_views_answers(evchong, method, envelope):
    body, content_type = ENVELOPES[envelope](orjson.dumps(GOOD[method]).decode())
    lean_answer, django_answer = both(evchong, method, body, content_type)
    assert lean_answer.status_code == 200
    same(lean_answer, django_answer)


@pytest.mark.parametrize(("method", "text"), BAD)
def test_errors_are_the_views_errors(evchong, method, text):
    body, content_type = ENVELOPES["raw-data"](text)
    lean_answer, django_answer = both(evchong, method, body, content_type)
    assert lean_answer.headers["content-type"] == "application/json" and lean_answer.json()
    same(lean_answer, django_answer)


@pytest.mark.parametrize("credentials", [None, "LOCKED:wrong", "LOCKED:s3cret"])
def test_basic_credentials_as_the_views_check_them(evchong, credentials):
    authorization = "Basic " + base64.b64encode(credentials.encode()).decode() if credentials else ""
    body, content_type = ENVELOPES["form"]('{"chargeBoxSerialNumber": "LOCKED"}')
    lean_answer, django_answer = both(evchong, "heartbeat", body, content_type, authorization)
    same(lean_answer, django_answer)
    if django_answer.status_code == 401:
        assert lean_answer.headers["www-authenticate"] == django_answer["WWW-Authenticate"]


def test_the_exchange_is_journaled(evchong):
    body, content_type = ENVELOPES["form"]('{"chargeBoxSerialNumber": "BOX-1"}')
    post_lean(BASE + "heartbeat", body, content_type)
    entries = JournalEntry.objects.filter(action="heartbeat", box__serial="BOX-1")
    assert sorted(entries.values_list("direction", flat=True)) == ["in", "out"]


@pytest.mark.parametrize(("path", "method", "content_type"), [
    (BASE + "heartbeat", "POST", "multipart/form-data; boundary=x"),  # Django's multipart parser reads these
    (BASE + "heartbeat", "GET", "text/plain"),
    (BASE + "heartbeat/", "POST", "text/plain"),
    (BASE + "nosuchmethod", "POST", "text/plain"),
    ("/admin/", "POST", "text/plain"),
])
def test_everything_else_goes_on_to_django(path, method, content_type):
    scope = {"type": "http", "method": method, "path": path, "headers": [(b"content-type", content_type.encode())]}
    sent = []

    async def send(message):
        sent.append(message)

    async_to_sync(lean)(scope, None, send)
    assert sent[0]["headers"] == [(b"x-delegated", b"1")]


def test_a_request_the_writers_cannot_account_for_is_a_json_500(caplog):
    # core.groupcommit wakes a request with a failure when it cannot say whether it was stored:
    # not acknowledged, in the API's own form, and nothing left for daphne to answer in plain text.
    async def lost(exchange):
        raise RuntimeError("the writer could not say whether this was stored")

    scope = {"type": "http", "method": "POST", "path": BASE + "heartbeat",
             "headers": [(b"content-type", b"application/json")]}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b'{"chargeBoxSerialNumber": "BOX-1"}', "more_body": False}

    async def send(message):
        sent.append(message)

    async_to_sync(ForwardAPI(_django_says_404, submit=lost))(scope, receive, send)
    assert sent[0]["status"] == 500
    assert orjson.loads(b"".join(m.get("body", b"") for m in sent[1:])) == {"error": "internal server error"}
    assert "Internal Server Error: /evchong-api/cperent/v1/heartbeat" in caplog.text
