"""Admission control at the OCPP edge (ocpp16.wsserver): beyond OCPP_CONNECTING_MAX boxes connecting
(upgrade request to first answer) a box waits for a place, for OCPP_ADMISSION_WAIT seconds at
most, and is then (or when OCPP_WAITING_MAX boxes wait already) answered HTTP 503 with Retry-After
before the upgrade; every way a set-up ends gives its place back. Real daphne processes, real boxes (the
`websockets` client)."""

from __future__ import annotations

import base64
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from chargers.models import ChargeBox


def ws(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/ocpp/"


def open_box(url: str, serial: str, **options):
    return connect(url + serial, subprotocols=["ocpp1.6"], proxy=None, open_timeout=10, close_timeout=2, **options)


def refusal(url: str, serial: str, **options):
    with pytest.raises(InvalidStatus) as refused:
        open_box(url, serial, **options).close()
    return refused.value.response


def upgrade_request(host: str, serial: str) -> bytes:
    key = base64.b64encode(b"0123456789abcdef").decode()
    return (f"GET /ocpp/{serial} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n").encode()


@pytest.fixture(scope="module")
def closed_server(start_daphne) -> str:
    """A server that admits no OCPP handshake at all."""
    return ws(start_daphne(OCPP_CONNECTING_MAX="0", OCPP_BUSY_RETRY_AFTER="7", OCPP_ADMISSION_WAIT="0"))


@pytest.fixture(scope="module")
def one_at_a_time(start_daphne) -> str:
    """A server that admits one OCPP handshake at a time and lets none wait: a place not given back
    shows at once."""
    return ws(start_daphne(OCPP_CONNECTING_MAX="1", OCPP_ADMISSION_WAIT="0"))


def test_beyond_the_bound_a_box_is_told_503_and_when_to_retry(transactional_db, make_box, closed_server):
    make_box("CP-1")
    response = refusal(closed_server, "CP-1")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert b"retry" in response.body
    # Turned away before any consumer ran: the box was never marked connected.
    assert not ChargeBox.objects.get(serial="CP-1").connected_node


def test_admission_covers_ocpp_only(transactional_db, closed_server):
    # The status pages' WebSocket (browsers, who would not retry) is not bounded by it.
    with pytest.raises(InvalidStatus) as refused:
        connect(closed_server.replace("/ocpp/", "/ws/not-a-route/"), proxy=None, open_timeout=10).close()
    assert refused.value.response.status_code != 503


def test_an_accepted_box_holds_its_place_until_its_first_answer(transactional_db, make_box, one_at_a_time):
    make_box("CP-1")
    make_box("CP-2")
    with open_box(one_at_a_time, "CP-1") as first:
        assert refusal(one_at_a_time, "CP-2").status_code == 503  # CP-1 is still setting up
        first.send('[2, "1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]')
        assert '"Accepted"' in first.recv(timeout=10)
        with open_box(one_at_a_time, "CP-2") as second:  # CP-1's place is free again
            assert second.subprotocol == "ocpp1.6"


def test_every_way_a_handshake_ends_gives_its_place_back(transactional_db, make_box, one_at_a_time):
    make_box("CP-1")
    make_box("CP-2", password="secret")
    for _ in range(3):
        assert refusal(one_at_a_time, "NO-SUCH-BOX").status_code == 404  # denied by the consumer
        assert refusal(one_at_a_time, "CP-2").status_code == 401
        # Accepted without ocpp1.6, then closed by the consumer.
        with connect(one_at_a_time + "CP-1", proxy=None, open_timeout=10) as plain:
            assert plain.subprotocol is None
        with open_box(one_at_a_time, "CP-1") as box:  # accepted
            assert box.subprotocol == "ocpp1.6"
    # A box that goes away in the middle of its handshake.
    host = urlsplit(one_at_a_time.replace("ws://", "http://")).netloc
    hostname, port = host.split(":")
    for _ in range(5):
        with socket.create_connection((hostname, int(port)), timeout=5) as s:
            s.sendall(upgrade_request(host, "CP-1"))
    # Its place is free once the server has seen it go, a moment later.
    assert admitted_within(one_at_a_time, "CP-1", seconds=5)


def admitted_within(url: str, serial: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open_box(url, serial) as box:
                return box.subprotocol == "ocpp1.6"
        except InvalidStatus as exc:
            assert exc.response.status_code == 503
            time.sleep(0.1)
    return False


def test_a_burst_is_split_into_admitted_and_503(transactional_db, make_box, start_daphne):
    url = ws(start_daphne(OCPP_CONNECTING_MAX="2", OCPP_ADMISSION_WAIT="0.5"))
    for n in range(40):
        make_box(f"CP-{n}", connectors=1)
    host = urlsplit(url.replace("ws://", "http://")).netloc
    hostname, port = host.split(":")
    sockets = [socket.create_connection((hostname, int(port)), timeout=10) for _ in range(40)]
    try:
        # All requests on the wire before any answer is read: they arrive together.
        for n, s in enumerate(sockets):
            s.sendall(upgrade_request(host, f"CP-{n}"))
        statuses = [s.recv(4096).split(b" ", 2)[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
    assert set(statuses) <= {b"101", b"503"}, statuses
    assert statuses.count(b"101") >= 2 and b"503" in statuses, statuses
    # Nothing leaked: the server admits boxes again once the burst is over.
    assert admitted_within(url, "CP-0", seconds=5)


BOOT = '[2, "1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]'


@pytest.fixture(scope="module")
def waiting_room(start_daphne) -> str:
    """One box connecting at a time, one more waiting for at most two seconds."""
    return ws(start_daphne(OCPP_CONNECTING_MAX="1", OCPP_ADMISSION_WAIT="2", OCPP_WAITING_MAX="1",
                           OCPP_BUSY_RETRY_AFTER="3"))


def test_a_box_beyond_the_bound_waits_and_is_let_in_when_a_place_is_free(transactional_db, make_box, waiting_room):
    make_box("CP-1")
    make_box("CP-2")
    with open_box(waiting_room, "CP-1") as first, ThreadPoolExecutor(1) as pool:
        second = pool.submit(open_box, waiting_room, "CP-2")
        time.sleep(0.5)
        assert not second.done()  # CP-1 is still setting up: CP-2 waits, unanswered
        first.send(BOOT)
        assert '"Accepted"' in first.recv(timeout=10)
        with second.result(timeout=5) as box:  # CP-1's place went to the waiting box
            assert box.subprotocol == "ocpp1.6"
            box.send(BOOT)
            assert '"Accepted"' in box.recv(timeout=10)


def test_a_box_that_finds_no_place_in_time_is_told_503(transactional_db, make_box, waiting_room):
    make_box("CP-1")
    make_box("CP-2")
    with open_box(waiting_room, "CP-1"):
        started = time.monotonic()
        response = refusal(waiting_room, "CP-2")
        waited = time.monotonic() - started
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"
    assert 1.5 <= waited < 5, waited


def test_with_the_waiting_room_full_a_box_is_told_503_at_once(transactional_db, make_box, waiting_room):
    for serial in ("CP-1", "CP-2", "CP-3"):
        make_box(serial)
    with open_box(waiting_room, "CP-1") as first, ThreadPoolExecutor(1) as pool:
        second = pool.submit(open_box, waiting_room, "CP-2")
        time.sleep(0.3)
        started = time.monotonic()
        assert refusal(waiting_room, "CP-3").status_code == 503
        assert time.monotonic() - started < 1
        first.send(BOOT)
        assert '"Accepted"' in first.recv(timeout=10)
        with second.result(timeout=5) as box:
            assert box.subprotocol == "ocpp1.6"


def test_a_waiting_box_that_goes_away_takes_no_place(transactional_db, make_box, waiting_room):
    make_box("CP-1")
    make_box("CP-2")
    host = urlsplit(waiting_room.replace("ws://", "http://")).netloc
    hostname, port = host.split(":")
    with open_box(waiting_room, "CP-1") as first:
        with socket.create_connection((hostname, int(port)), timeout=5) as s:
            s.sendall(upgrade_request(host, "CP-1"))
            time.sleep(0.3)  # waiting now; then gone
        first.send(BOOT)
        assert '"Accepted"' in first.recv(timeout=10)
    # The place the first box gave back is free for the next one, whatever the one that left did.
    assert admitted_within(waiting_room, "CP-2", seconds=5)


def test_a_refusal_is_a_complete_http_answer_and_the_connection_closes(closed_server):
    # Refused as soon as the request is read, before any WebSocket machinery: still a whole HTTP
    # answer (status, Retry-After, a body as long as it says), then the server hangs up.
    host = urlsplit(closed_server.replace("ws://", "http://")).netloc
    hostname, port = host.split(":")
    with socket.create_connection((hostname, int(port)), timeout=10) as s:
        s.sendall(upgrade_request(host, "CP-1"))
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
    assert lines[0].startswith(b"HTTP/1.1 503")
    assert headers[b"retry-after"] == b"7"
    assert int(headers[b"content-length"]) == len(body) and b"retry" in body


def test_autobahns_debug_line_is_formatted_only_when_written():
    from autobahn.websocket import protocol

    from ocpp16 import wsserver

    wsserver.install()
    assert protocol.pformat is wsserver._Pretty
    settings_log = [("openHandshakeTimeout", 5, "WebSocketServerFactory")]
    assert "{attrs}".format(attrs=protocol.pformat(settings_log)) == __import__("pprint").pformat(settings_log)
