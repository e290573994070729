"""Concurrency and faults from outside: many boxes at once, a silent box that must not hold up the
others' commands, and a server process that dies under its boxes."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conformance_kit import BoxClient, iso
from ocpp.v16 import call


def test_forty_boxes_boot_and_charge_at_once(transactional_db, make_box, make_tag, ocpp_base, http, api_token):
    make_tag("CARD")
    serials = [f"MANY-{n:02d}" for n in range(40)]
    for serial in serials:
        make_box(serial, connectors=1)
    barrier = threading.Barrier(len(serials))

    def one(serial):
        box = BoxClient(ocpp_base, serial).open()
        try:
            barrier.wait()
            assert box.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M")).status == "Accepted"
            started = box.call(call.StartTransaction(connector_id=1, id_tag="CARD", meter_start=0, timestamp=iso()))
            box.call(call.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[
                {"timestamp": iso(), "sampledValue": [{"value": "500"}]}]))
            box.call(call.StopTransaction(meter_stop=1000, timestamp=iso(), transaction_id=started.transaction_id))
            assert not box.cp.refused
            return started.transaction_id
        finally:
            box.stop()

    with ThreadPoolExecutor(len(serials)) as pool:
        ids = list(pool.map(one, serials))
    assert len(set(ids)) == len(serials)
    for transaction_id in ids[:5]:
        assert http.get_json(f"/api/v1/transactions/{transaction_id}", api_token)[1]["energyWh"] == 1000


def test_a_silent_box_does_not_hold_up_commands_to_other_boxes(transactional_db, make_box, library_box,
                                                               celery_worker, http, api_token):
    make_box("QUIET", connectors=1)
    make_box("CHATTY", connectors=1)
    quiet = library_box("QUIET", answers={"Reset": None})
    chatty = library_box("CHATTY")
    result = {}
    waiting = threading.Thread(target=lambda: result.update(quiet=http.post_json(
        "/evchong-api/reverse/v1/Reset", {"chargeBoxSerialNumber": "QUIET", "type": "Soft"}, api_token)))
    waiting.start()
    time.sleep(0.5)  # the quiet box's call is in flight
    began = time.monotonic()
    for _ in range(3):
        code, answer = http.post_json("/evchong-api/reverse/v1/Reset", {"chargeBoxSerialNumber": "CHATTY",
                                                                         "type": "Soft"}, api_token)
        assert (code, answer) == (200, {"status": "Accepted"})
    assert time.monotonic() - began < 3
    assert len(chatty.received("Reset")) == 3
    assert waiting.is_alive()  # the quiet box still holds its caller
    quiet.close()  # and going away ends its call at once
    waiting.join(10)
    assert result["quiet"][1]["status"] == "Rejected"


@pytest.fixture
def doomed_server(server_env):
    """A daphne of our own, to be killed without warning (SIGKILL) mid-test."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "evchong.asgi:application"],
        env=server_env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "daphne did not start"
            time.sleep(0.1)
    yield process, f"ws://127.0.0.1:{port}/ocpp/"
    if process.poll() is None:
        process.kill()
    process.wait(10)


def test_a_box_whose_server_died_is_reached_on_the_server_it_moves_to(transactional_db, make_box, doomed_server,
                                                                      ocpp_base, celery_worker, http, api_token):
    make_box("NOMAD", connectors=1)
    process, doomed_url = doomed_server
    first = BoxClient(doomed_url, "NOMAD").open()
    try:
        first.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        first.wait_closed()
    finally:
        first.stop()
    second = BoxClient(ocpp_base, "NOMAD").open()
    try:
        assert second.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M")).status == "Accepted"
        code, answer = http.post_json("/evchong-api/reverse/v1/Reset", {"chargeBoxSerialNumber": "NOMAD",
                                                                        "type": "Hard"}, api_token)
        assert (code, answer) == (200, {"status": "Accepted"})
        assert second.received() == [("Reset", {"type": "Hard"})]
        assert http.get_json("/api/v1/boxes/NOMAD", api_token)[1]["online"] is True
    finally:
        second.stop()
