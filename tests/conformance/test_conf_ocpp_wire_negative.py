"""Negative cases on the wire (OCPP-J 1.6 §3, §4), with a raw WebSocket client: broken frames,
schema violations message by message, the handshake refusals, frame size, replacement of a
connection. Error codes are compared as OCPP-J 1.6 spells them (OccurenceConstraintViolation with
one "r", FormationViolation), never as the `ocpp` library spells them."""

import base64
import json
from contextlib import ExitStack

import pytest
from conformance_kit import iso
from ocpp.v16 import call
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

OCPP_J_16_ERROR_CODES = {
    "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError", "FormationViolation",
    "PropertyConstraintViolation", "OccurenceConstraintViolation", "TypeConstraintViolation", "GenericError",
}


class RawBox:
    def __init__(self, ws):
        self.ws = ws

    def send(self, frame) -> None:
        self.ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))

    def recv(self, timeout: float = 10) -> list:
        return json.loads(self.ws.recv(timeout=timeout))

    def error(self, frame) -> tuple[str, str]:
        """Send ``frame``; the answer must be a well-formed CALLERROR: (uniqueId, errorCode)."""
        self.send(frame)
        reply = self.recv()
        assert isinstance(reply, list) and len(reply) == 5 and reply[0] == 4, reply
        assert reply[2] in OCPP_J_16_ERROR_CODES, reply
        assert isinstance(reply[3], str) and len(reply[3]) <= 255 and reply[4] == {}, reply
        return reply[1], reply[2]

    def heartbeat_works(self) -> bool:
        self.send([2, "alive", "Heartbeat", {}])
        reply = self.recv()
        return reply[:2] == [3, "alive"] and "currentTime" in reply[2]


@pytest.fixture
def raw(ocpp_base, transactional_db, make_box, make_tag):
    """``raw(serial="RAW-1", **connect_options) -> RawBox``; RAW-1 and SAFE (password) exist."""
    make_box("RAW-1", connectors=2)
    make_box("SAFE", password="correct-horse-battery")
    make_tag("GOOD")
    with ExitStack() as opened:

        def open_raw(serial="RAW-1", subprotocols=("ocpp1.6",), headers=None, **options) -> RawBox:
            return RawBox(opened.enter_context(connect(
                ocpp_base + serial, subprotocols=list(subprotocols), additional_headers=headers or {},
                proxy=None, open_timeout=10, close_timeout=2, **options)))

        yield open_raw


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize("frame, unique_id, code", [
    ('[2, "j-1", "Heartbeat", {}', "j-1", "FormationViolation"),  # truncated JSON
    ('[2, "j-2", "Heartbeat", {}] trailing', "j-2", "FormationViolation"),
    ("\u00ff\u00fe garbage", "-1", "FormationViolation"),
    ('{"2": "Heartbeat"}', "-1", "FormationViolation"),  # not an array
    ('"just a string"', "-1", "FormationViolation"),
    ("[2]", "-1", "FormationViolation"),
    ('[5, "t-5", "Heartbeat", {}]', "t-5", "ProtocolError"),  # no such message type
    ('[0, "t-0", "Heartbeat", {}]', "t-0", "ProtocolError"),
    ('[2.0, "t-2", "Heartbeat", {}]', "t-2", "FormationViolation"),
    ('[2, "c-1", "Heartbeat"]', "c-1", "ProtocolError"),  # payload missing
    ('[2, "c-2", null, {}]', "c-2", "FormationViolation"),
    ('[2, "c-3", "Heartbeat", "{}"]', "c-3", "FormationViolation"),  # payload as a string
    ("[" * 5000 + "]" * 5000, "-1", "FormationViolation"),  # nested beyond any parser's depth
    # JSON allows NUL only escaped; a raw one is a broken frame, and PostgreSQL text cannot hold it.
    ('[2, "z-1", "Authorize", {"idTag": "A\x00B"}]', "z-1", "FormationViolation"),
    ("\x00", "-1", "FormationViolation"),
])
def test_broken_frames_get_a_callerror_and_the_connection_lives(raw, frame, unique_id, code):
    box = raw()
    assert box.error(frame) == (unique_id, code)
    assert box.heartbeat_works()


def test_unique_id_of_36_characters_is_fine_37_is_not(raw):
    box = raw()
    box.send([2, "i" * 36, "Heartbeat", {}])
    assert box.recv()[:2] == [3, "i" * 36]
    assert box.error([2, "j" * 37, "Heartbeat", {}])[1] == "FormationViolation"


@pytest.mark.parametrize("action, code", [
    ("FlyToTheMoon", "NotImplemented"),
    ("heartbeat", "NotImplemented"),
    ("RemoteStartTransaction", "NotSupported"),  # a Central-System call, sent by a box
    ("GetConfiguration", "NotSupported"),
])
def test_actions_a_box_may_not_send(raw, action, code):
    assert raw().error([2, "a-1", action, {}]) == ("a-1", code)


# Message by message: one defect each, and the OCPP-J 1.6 code for it (§4.2.3).
START = {"connectorId": 1, "idTag": "GOOD", "meterStart": 0, "timestamp": "2026-03-01T10:00:00Z"}
STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
DEFECTS = [
    ("BootNotification", {"chargePointVendor": "V"}, "OccurenceConstraintViolation"),
    ("BootNotification", {"chargePointVendor": "V" * 21, "chargePointModel": "M"}, "PropertyConstraintViolation"),
    ("BootNotification", {"chargePointVendor": 7, "chargePointModel": "M"}, "TypeConstraintViolation"),
    ("Authorize", {}, "OccurenceConstraintViolation"),
    ("Authorize", {"idTag": 12345}, "TypeConstraintViolation"),
    ("Authorize", {"idTag": "T" * 21}, "PropertyConstraintViolation"),
    ("StartTransaction", {k: v for k, v in START.items() if k != "meterStart"}, "OccurenceConstraintViolation"),
    ("StartTransaction", {**START, "connectorId": "1"}, "TypeConstraintViolation"),
    ("StartTransaction", {**START, "meterStart": 1.5}, "TypeConstraintViolation"),
    ("StartTransaction", {**START, "timestamp": "yesterday"}, "PropertyConstraintViolation"),
    ("StartTransaction", {**START, "timestamp": "2026-02-30T10:00:00Z"}, "PropertyConstraintViolation"),
    ("StartTransaction", {**START, "connectorId": 0}, "PropertyConstraintViolation"),
    ("StatusNotification", {**STATUS, "status": "Charged"}, "PropertyConstraintViolation"),
    ("StatusNotification", {**STATUS, "errorCode": "Mode3Error"}, "PropertyConstraintViolation"),  # OCPP 1.5 only
    ("StatusNotification", {"connectorId": 1, "status": "Available"}, "OccurenceConstraintViolation"),
    ("StatusNotification", {**STATUS, "info": "i" * 51}, "PropertyConstraintViolation"),
    ("StatusNotification", {**STATUS, "connectorId": -1}, "PropertyConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": []}, "OccurenceConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "2026-03-01T10:00:00Z", "sampledValue": [
        {"value": "1", "measurand": "Energy.Active.Import.Registers"}]}]}, "PropertyConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": "2026-03-01T10:00:00Z", "sampledValue": [
        {"value": 1}]}]}, "TypeConstraintViolation"),
    ("MeterValues", {"connectorId": 1, "meterValue": [{"sampledValue": [{"value": "1"}]}]},
     "OccurenceConstraintViolation"),
    ("StopTransaction", {"meterStop": 1, "timestamp": "2026-03-01T10:00:00Z"}, "OccurenceConstraintViolation"),
    ("StopTransaction", {"transactionId": 1, "meterStop": 1, "timestamp": "2026-03-01T10:00:00Z",
                         "reason": "Unplugged"}, "PropertyConstraintViolation"),
    ("Heartbeat", {"extra": 1}, "FormationViolation"),
    ("DataTransfer", {"messageId": "x"}, "OccurenceConstraintViolation"),
    ("DataTransfer", {"vendorId": "v" * 256}, "PropertyConstraintViolation"),
    ("FirmwareStatusNotification", {"status": "Done"}, "PropertyConstraintViolation"),
    ("DiagnosticsStatusNotification", {}, "OccurenceConstraintViolation"),
]


@pytest.mark.parametrize("action, payload, code", DEFECTS, ids=[f"{d[0]}-{n}" for n, d in enumerate(DEFECTS)])
def test_schema_violations_get_the_ocpp_j_code(raw, action, payload, code):
    assert raw().error([2, "d-1", action, payload]) == ("d-1", code)


def test_an_escaped_nul_in_a_value_is_refused_not_crashing(raw):
    box = raw()
    assert box.error([2, "u-1", "Authorize", {"idTag": "A\u0000B"}]) == ("u-1", "PropertyConstraintViolation")
    assert box.heartbeat_works()


def test_nothing_is_recorded_for_a_refused_start(raw):
    box = raw()
    box.error([2, "s-1", "StartTransaction", {**START, "meterStart": "0"}])
    box.send([2, "s-2", "StartTransaction", START])
    assert box.recv()[2]["transactionId"] > 0
    box.send([2, "s-3", "StopTransaction", {"transactionId": 10**9, "meterStop": 0, "timestamp": iso()}])
    assert box.recv()[:2] == [3, "s-3"]


def test_answers_to_calls_never_made_are_ignored(raw):
    box = raw()
    box.send([3, "nobody-asked", {"status": "Accepted"}])
    box.send([4, "nobody-asked-2", "InternalError", "oops", {}])
    box.send('[3, "nobody-asked-3", {"status": "\x00"}]')  # broken, and unstorable as it is
    assert box.heartbeat_works()  # and no CALLERROR for the strays came first


def test_a_box_may_send_several_calls_without_waiting(raw):
    """The server answers each, in order (one frame at a time per connection)."""
    box = raw()
    for n in range(5):
        box.send([2, f"burst-{n}", "Heartbeat", {}])
    assert [box.recv()[1] for _ in range(5)] == [f"burst-{n}" for n in range(5)]


@pytest.mark.parametrize("size", [70_000, 1_100_000])
def test_oversize_frame_is_closed_with_1009(raw, size):
    box = raw(max_size=None)
    box.send('[2, "big", "DataTransfer", {"vendorId": "x", "data": "' + "d" * size + '"}]')
    with pytest.raises(ConnectionClosed) as closed:
        box.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_the_server_survives_an_oversize_frame(raw):
    first = raw()
    first.send("[" + "1," * 100_000 + "1]")
    with pytest.raises(ConnectionClosed):
        first.recv()
    assert raw().heartbeat_works()


@pytest.mark.parametrize("offered", [(), ("ocpp2.0.1",), ("ocpp1.5", "OCPP1.6")])
def test_no_supported_subprotocol_completes_without_one_then_closes(raw, offered):
    box = raw(subprotocols=offered)
    assert box.ws.subprotocol is None
    assert box.ws.response.headers.get("Sec-WebSocket-Protocol") is None
    with pytest.raises(ConnectionClosed):
        box.recv()


def test_an_origin_header_is_no_reason_to_refuse(raw):
    """Boxes send none, gateways and browsers-based tools do: the OCPP route checks no Origin."""
    assert raw(headers={"Origin": "http://somewhere-else.example"}).heartbeat_works()


@pytest.mark.parametrize("path", ["NO-SUCH-BOX", "RAW-1%00", "%00", "RAW%001"])
def test_unknown_box_is_404_before_the_upgrade(raw, path):
    with pytest.raises(InvalidStatus) as refused:
        raw(path)
    assert refused.value.response.status_code == 404


@pytest.mark.parametrize("headers", [None, basic("SAFE", "wrong"), basic("RAW-1", "correct-horse-battery"),
                                     {"Authorization": "Bearer correct-horse-battery"},
                                     {"Authorization": "Basic !!!"}])
def test_basic_auth_refusals_are_401(raw, headers):
    with pytest.raises(InvalidStatus) as refused:
        raw("SAFE", headers=headers)
    assert refused.value.response.status_code == 401


def test_basic_auth_with_the_right_password(raw, library_box):
    box = raw("SAFE", headers=basic("SAFE", "correct-horse-battery"))
    assert box.heartbeat_works()
    client = library_box("SAFE", password="correct-horse-battery")
    assert client.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M")).status == "Accepted"


def test_a_second_connection_replaces_the_first_and_takes_the_calls(raw, library_box, celery_worker, http,
                                                                     api_token):
    old = raw()
    assert old.heartbeat_works()
    new = library_box("RAW-1")
    with pytest.raises(ConnectionClosed):
        old.recv(timeout=10)
    code, body = http.post_json("/api/v1/boxes/RAW-1/commands", {"action": "ClearCache", "payload": {}}, api_token)
    assert (code, body["state"]) == (200, "accepted")
    assert new.received() == [("ClearCache", {})]


def test_a_reconnecting_box_is_online_again(raw, http, api_token, wait_for):
    first = raw()
    first.ws.close()
    wait_for(lambda: http.get_json("/api/v1/boxes/RAW-1", api_token)[1]["online"] is False)
    second = raw()
    assert second.heartbeat_works()
    assert http.get_json("/api/v1/boxes/RAW-1", api_token)[1]["online"] is True

