"""The conformance suite drives the real server from outside, as the independent suite will: real
daphne processes, a real Celery worker, HTTP and WebSocket clients that know nothing of the code.

The OCPP client is mobilityhouse's `ocpp` ChargePoint, which validates every message against the
official OCPP 1.6 JSON schemas in both directions: our answers to the box's calls, and every call
we send to the box (it answers a call that breaks the schema with a CALLERROR, which the fixture
records and every test fails on).
"""

from __future__ import annotations

import io

import pytest
from conformance_kit import BoxClient, Http
from django.core.management import call_command


@pytest.fixture
def ocpp_base(live_server_url) -> str:
    return live_server_url.replace("http://", "ws://") + "/ocpp/"


@pytest.fixture
def library_box(ocpp_base):
    """``library_box(serial, password=None, answers=None, base=None) -> BoxClient`` (connected)."""
    opened: list[BoxClient] = []

    def open_box(serial: str, *, password: str | None = None, answers: dict | None = None,
                 base: str | None = None) -> BoxClient:
        client = BoxClient(base or ocpp_base, serial, password=password, answers=answers)
        opened.append(client)
        return client.open()

    yield open_box
    refused = [r for client in opened if client.cp for r in client.cp.refused]
    for client in opened:
        client.stop()
    assert not refused, f"the ocpp library refused calls of ours: {refused}"


@pytest.fixture
def api_token(transactional_db) -> str:
    out = io.StringIO()
    call_command("apitoken", "conformance", stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def http(live_server_url) -> Http:
    return Http(live_server_url)
