"""A charge box for the tests: a real WebSocket client (the `websockets` package) speaking OCPP-J 1.6
to the real daphne of `live_server_url`, checking every answer against the official OCPP 1.6 JSON
schemas with an independent validator (jsonschema, not the server's fastjsonschema)."""

from __future__ import annotations

import base64
import itertools
import json
from contextlib import ExitStack
from urllib.parse import quote

import pytest
from websockets.sync.client import connect

from schemas import schema_check


class OcppBox:
    def __init__(self, ws):
        self.ws = ws
        self.ids = (f"cp-{n}" for n in itertools.count(1))

    def send(self, frame) -> None:
        self.ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))

    def recv(self, timeout: float = 10) -> list:
        return json.loads(self.ws.recv(timeout=timeout))

    def call(self, action: str, payload: dict | None = None, unique_id: str | None = None) -> dict:
        """A CALL that must succeed: returns the CALLRESULT's payload, checked against the schema."""
        unique_id = unique_id or next(self.ids)
        self.send([2, unique_id, action, {} if payload is None else payload])
        reply = self.recv()
        assert reply[:2] == [3, unique_id], reply
        schema_check(f"{action}Response", reply[2])
        return reply[2]

    def call_error(self, action: str, payload: dict | None, unique_id: str | None = None) -> tuple[str, str]:
        """A CALL that must fail: returns (errorCode, errorDescription)."""
        unique_id = unique_id or next(self.ids)
        self.send([2, unique_id, action, payload])
        return self.error_for(unique_id)

    def error_for(self, unique_id: str) -> tuple[str, str]:
        reply = self.recv()
        assert reply[0] == 4 and reply[1] == unique_id and reply[4] == {}, reply
        assert isinstance(reply[3], str)
        return reply[2], reply[3]

    def expect_call(self, timeout: float = 10) -> list:
        """The next CALL from the central system, checked against its request schema."""
        message = self.recv(timeout)
        assert message[0] == 2 and len(message) == 4, message
        schema_check(message[2], message[3])
        return message

    def answer(self, unique_id: str, payload: dict) -> None:
        self.send([3, unique_id, payload])

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def ocpp_url(live_server_url) -> str:
    return live_server_url.replace("http://", "ws://") + "/ocpp/"


@pytest.fixture
def connect_box(ocpp_url):
    """``connect_box(serial, password=None, subprotocols=("ocpp1.6",), url=None) -> OcppBox``."""
    with ExitStack() as opened:

        def open_box(serial: str, *, password: str | None = None, subprotocols=("ocpp1.6",), url: str | None = None,
                     headers: dict | None = None) -> OcppBox:
            headers = dict(headers or {})
            if password is not None:
                headers["Authorization"] = "Basic " + base64.b64encode(f"{serial}:{password}".encode()).decode()
            ws = opened.enter_context(connect(
                (url or ocpp_url) + quote(serial, safe=""), subprotocols=list(subprotocols),
                additional_headers=headers, proxy=None, open_timeout=10, close_timeout=2,
            ))
            return OcppBox(ws)

        yield open_box


@pytest.fixture
def cp(transactional_db, make_box, connect_box) -> OcppBox:
    """Box CP-1 (connectors 1 and 2), registered and connected."""
    make_box("CP-1", connectors=2)
    return connect_box("CP-1")
