"""`make run`'s server choices (core.stack.web_commands): daphne (the default), several daphne
processes on one socket, and uvicorn. Each serves the forward API and the OCPP edge: subprotocol,
refusal before the upgrade, and server pings."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from core.stack import web_commands
from servers import free_port
from simbox import PingCounter

ROOT = Path(__file__).resolve().parent.parent


def heartbeat(port: int, serial: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/evchong-api/cperent/v1/heartbeat",
                                     data=b'data={"chargeBoxSerialNumber":"%s"}' % serial.encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return orjson.loads(response.read())


@pytest.fixture
def serve(server_env, settings):
    settings.OCPP_PING_INTERVAL = 1
    started = []

    def start(server: str, processes: int) -> int:
        port = free_port()
        commands, sockets = web_commands(sys.executable, "127.0.0.1", str(port), server, processes)
        for command in commands:
            log_dir = os.environ.get("EVCHONG_VAR")
            log = open(Path(log_dir) / f"{server}-{port}.log", "a") if log_dir else subprocess.DEVNULL
            started.append(subprocess.Popen(command, env=server_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                            pass_fds=[sock.fileno() for sock in sockets]))
        for sock in sockets:
            sock.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                heartbeat(port, "CP-1")
                return port
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                assert all(proc.poll() is None for proc in started), "server exited"
                time.sleep(0.2)

    yield start
    for proc in started:
        proc.terminate()
    for proc in started:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:  # as core.stack does after 15 s
            proc.kill()
            proc.wait(5)


@pytest.mark.parametrize(("server", "processes"), [("daphne", 1), ("daphne", 2), ("uvicorn", 1)])
def test_each_server_choice_serves_both_edges(transactional_db, make_box, serve, server, processes):
    make_box("CP-1")
    port = serve(server, processes)
    assert set(heartbeat(port, "CP-1")) == {"currentTime"}
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{port}/ocpp/NOBODY", subprotocols=["ocpp1.6"], proxy=None)
    assert refused.value.response.status_code == 404
    with connect(f"ws://127.0.0.1:{port}/ocpp/CP-1", subprotocols=["ocpp1.6"], proxy=None, ping_interval=None,
                 create_connection=PingCounter) as ws:
        assert ws.subprotocol == "ocpp1.6"
        ws.send(orjson.dumps([2, "1", "Heartbeat", {}]).decode())
        answer = orjson.loads(ws.recv(10))
        assert answer[:2] == [3, "1"] and "currentTime" in answer[2]
        deadline = time.monotonic() + 10
        while ws.pings < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ws.pings >= 2


def test_an_unknown_server_is_refused():
    with pytest.raises(SystemExit):
        web_commands(sys.executable, "127.0.0.1", "8000", "gunicorn", 1)


def test_one_server_process_per_core_up_to_two_unless_told(monkeypatch):
    from core import stack

    for cores, expected in [(1, 1), (2, 2), (16, 2), (None, 1)]:
        monkeypatch.setattr(stack.os, "cpu_count", lambda cores=cores: cores)
        assert stack.web_processes({}) == expected
        assert stack.web_processes({"WEB_PROCESSES": ""}) == expected  # make passes unset knobs as ""
    assert stack.web_processes({"WEB_PROCESSES": "3"}) == 3


def test_two_server_processes_are_set_up_without_a_settings_module_given():
    # bench.system calls web_commands directly, with no DJANGO_SETTINGS_MODULE in its environment.
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    code = ("from core.stack import web_commands; commands, sockets = web_commands("
            "'python', '127.0.0.1', '0', 'daphne', 2); print(len(commands), len(sockets))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "1"]
