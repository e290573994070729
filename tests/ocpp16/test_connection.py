"""The connection (OCPP-J 1.6 §3, §5, §6): who may connect, with which subprotocol, how the box's
id is read, one connection per box, online while connected, pings, and the frame size limit."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from chargers.models import ChargeBox, JournalEntry
from core.stack import daphne_command
from simbox import PingCounter

BOOT = {"chargePointVendor": "VendorX", "chargePointModel": "SingleSocketCharger"}


def refused_status(connect_box, *args, **kwargs) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as refused:
        connect_box(*args, **kwargs)
    return refused.value


def test_ocpp16_is_chosen_among_the_subprotocols_offered(transactional_db, make_box, connect_box):
    make_box("CP-1")
    box = connect_box("CP-1", subprotocols=("ocpp2.0.1", "ocpp1.6", "ocpp1.5"))
    assert box.ws.subprotocol == "ocpp1.6"
    assert box.ws.request.headers.get("Origin") is None  # boxes send none, and need not
    box.call("BootNotification", BOOT)


@pytest.mark.parametrize("offered", [("ocpp2.0.1",), ()])
def test_without_ocpp16_the_handshake_completes_then_closes(transactional_db, make_box, connect_box, offered):
    # OCPP-J 1.6 §3.2: no Sec-WebSocket-Protocol in the answer, then close at once.
    make_box("CP-1")
    box = connect_box("CP-1", subprotocols=offered)
    assert box.ws.subprotocol is None
    with pytest.raises(ConnectionClosed) as closed:
        box.recv()
    assert closed.value.rcvd.code == 1000
    assert ChargeBox.objects.get(serial="CP-1").connected_node == ""


def test_unknown_box_is_refused_with_404_before_the_upgrade(transactional_db, connect_box):
    assert refused_status(connect_box, "NOBODY").response.status_code == 404
    assert not ChargeBox.objects.exists()


def test_no_id_in_the_path_is_404(transactional_db, connect_box):
    assert refused_status(connect_box, "").response.status_code == 404


class TestBasicAuth:
    """Security profile 1: HTTP Basic, username = the charge box id, checked before the upgrade."""

    @pytest.fixture(autouse=True)
    def safe_box(self, transactional_db, make_box):
        make_box("SAFE", password="s3cret-s3cret-16")

    def test_right_credentials(self, connect_box):
        assert connect_box("SAFE", password="s3cret-s3cret-16").call("BootNotification", BOOT)["status"] == "Accepted"

    def test_missing_credentials_are_401_with_a_challenge(self, connect_box):
        response = refused_status(connect_box, "SAFE").response
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")

    def test_wrong_password_is_401(self, connect_box):
        assert refused_status(connect_box, "SAFE", password="guess").response.status_code == 401

    def test_another_username_is_401(self, connect_box):
        headers = {"Authorization": "Basic T1RIRVI6czNjcmV0LXMzY3JldC0xNg=="}  # OTHER:s3cret-s3cret-16
        assert refused_status(connect_box, "SAFE", headers=headers).response.status_code == 401

    def test_garbage_credentials_are_401(self, connect_box):
        assert refused_status(connect_box, "SAFE", headers={"Authorization": "Basic %%%"}).response.status_code == 401


@pytest.mark.parametrize("serial", ["RDAM 123", "a/b", "Zählsäule-7"])
def test_the_id_is_the_percent_decoded_last_segment(transactional_db, make_box, connect_box, serial):
    make_box(serial)
    connect_box(serial).call("Heartbeat")
    assert JournalEntry.objects.filter(box__serial=serial, action="Heartbeat").count() == 2


def test_the_endpoint_may_have_more_path_before_the_id(transactional_db, make_box, connect_box, ocpp_url):
    make_box("CP-1")
    assert "currentTime" in connect_box("CP-1", url=ocpp_url + "v16/").call("Heartbeat")
    assert JournalEntry.objects.filter(box__serial="CP-1", action="Heartbeat").count() == 2


def test_a_second_connection_replaces_the_first(transactional_db, make_box, connect_box, wait_for):
    make_box("CP-1")
    first = connect_box("CP-1")
    first.call("Heartbeat")
    second = connect_box("CP-1")
    with pytest.raises(ConnectionClosed):
        first.recv(timeout=10)
    second.call("Heartbeat")
    time.sleep(0.3)  # the first connection's close has been handled by now
    box = ChargeBox.objects.get(serial="CP-1")
    assert box.connected_node and box.is_online


def test_a_connection_to_another_server_process_replaces_this_one(transactional_db, make_box, connect_box,
                                                                   start_daphne, wait_for):
    make_box("CP-1")
    first = connect_box("CP-1")
    other_process = start_daphne().replace("http://", "ws://") + "/ocpp/"
    second = connect_box("CP-1", url=other_process)
    with pytest.raises(ConnectionClosed):
        first.recv(timeout=10)
    second.call("Heartbeat")


def test_online_while_connected_offline_when_closed(transactional_db, make_box, connect_box, wait_for):
    make_box("CP-1")
    box = connect_box("CP-1")
    row = ChargeBox.objects.get(serial="CP-1")
    assert row.connected_node and row.is_online and row.protocol == "ocpp1.6"
    box.close()
    wait_for(lambda: ChargeBox.objects.get(serial="CP-1").connected_node == "")
    assert not ChargeBox.objects.get(serial="CP-1").is_online


def test_a_frame_over_the_limit_is_closed_with_1009(cp, settings):
    limit = settings.OCPP_MAX_FRAME_BYTES
    data = "x" * (limit - 200)
    assert cp.call("DataTransfer", {"vendorId": "acme", "data": data}) == {"status": "UnknownVendorId"}
    cp.send('[2, "big", "DataTransfer", {"vendorId": "acme", "data": "' + "x" * limit + '"}]')
    with pytest.raises(ConnectionClosed) as closed:
        cp.recv()
    assert closed.value.rcvd.code == 1009


def test_a_box_deleted_while_connected_is_refused(cp):
    ChargeBox.objects.filter(serial="CP-1").delete()
    assert cp.call_error("Heartbeat", {})[0] == "SecurityError"


def test_auto_registration_keeps_unknown_boxes_pending(transactional_db, start_daphne, connect_box):
    url = start_daphne(OCPP_AUTO_REGISTER="1").replace("http://", "ws://") + "/ocpp/"
    box = connect_box("NEWCOMER", url=url)
    assert box.call("BootNotification", BOOT)["status"] == "Pending"
    assert ChargeBox.objects.get(serial="NEWCOMER").registration_status == "Pending"
    assert box.call_error("StatusNotification", {"connectorId": 0, "errorCode": "NoError",
                                                 "status": "Available"})[0] == "SecurityError"


def test_make_run_pings_idle_boxes(transactional_db, make_box, server_env, settings):
    """The daphne that `make run` starts pings a silent box at the configured interval."""
    make_box("CP-1")
    settings.OCPP_PING_INTERVAL = 1
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = daphne_command(sys.executable, "127.0.0.1", str(port))
    assert command[command.index("--websocket_timeout") + 1] == "-1"  # no idle cut-off
    server = subprocess.Popen(command, env=server_env, cwd=Path(__file__).parents[2],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ws = connect(f"ws://127.0.0.1:{port}/ocpp/CP-1", subprotocols=["ocpp1.6"], proxy=None,
                             ping_interval=None, create_connection=PingCounter)
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        with ws:
            deadline = time.monotonic() + 10
            while ws.pings < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert ws.pings >= 2
    finally:
        server.terminate()
        server.wait(10)


def test_an_idle_connection_stays_open(cp):
    """Regression: with redis-py 8's default 5 s read timeout, the channel layer's blocking read
    failed and took idle connections down with 1011 within seconds."""
    cp.call("Heartbeat")
    time.sleep(11)
    assert "currentTime" in cp.call("Heartbeat")  # the same connection still answers


def test_a_database_out_of_reach_is_503_with_retry_after_before_the_upgrade(start_daphne, connect_box):
    # Port 9 (discard) has no PostgreSQL: every look-up of the box fails to connect.
    url = start_daphne(DATABASE_URL="postgres://postgres@127.0.0.1:9/evchong")
    refused = refused_status(connect_box, "ANY-BOX", url=url.replace("http://", "ws://") + "/ocpp/")
    assert refused.response.status_code == 503
    assert int(refused.response.headers["Retry-After"]) > 0
