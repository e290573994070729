"""`make run` supervises its processes (core.stack): one that dies is started again while the
others go on serving, nothing it leaves behind lives on, and Ctrl-C ends every process group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from servers import free_port

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / "var" / "supervisor.json"


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def eventually(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.25)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.fixture
def stack(server_env, transactional_db, tmp_path):
    port = free_port()
    env = {**server_env, "PORT": str(port), "WEB_PROCESSES": "1", "CELERY_CONCURRENCY": "1",
           "FTP_PORT": str(free_port()), "FTP_PASSIVE_PORTS": "", "LOG_LEVEL": "WARNING"}
    log = open(tmp_path / "stack.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "core.stack"], env=env, cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        eventually(lambda: healthy(port) and STATE.exists(), 90, "make run serving")
        yield process, port, tmp_path / "stack.log"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_killed_worker_is_started_again_and_the_web_serves_on(stack):
    process, port, log = stack
    first = json.loads(STATE.read_text())["worker"]["pid"]
    os.kill(first, signal.SIGKILL)
    assert healthy(port)  # the web process is untouched
    eventually(lambda: json.loads(STATE.read_text())["worker"]["restarts"] == 1, 30, "the worker restarted")
    second = json.loads(STATE.read_text())["worker"]["pid"]
    assert second != first and group_alive(second)
    # Its pool processes and its beat went with it: no second beat beside the new one.
    eventually(lambda: not group_alive(first), 10, "the old worker's process group gone")
    assert process.poll() is None and healthy(port)
    assert "worker exited with -9; starting it again" in log.read_text()
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'evchong_process_restarts{process="worker"} 1.0' in metrics


def test_ctrl_c_ends_every_process_group(stack):
    process, port, _ = stack
    groups = [state["pid"] for state in json.loads(STATE.read_text()).values()]
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0
    assert [pgid for pgid in groups if group_alive(pgid)] == []
    assert not healthy(port)
