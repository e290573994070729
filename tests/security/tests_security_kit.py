"""A daphne process with low rate limits, and clients that connect from chosen loopback addresses
(127.0.0.2 plays an attacker elsewhere; Linux routes all of 127/8 to the loopback)."""

from __future__ import annotations

import base64
import http.client
import json
from urllib.parse import urlsplit

import pytest

# Low enough to reach in a test, high enough that the tests' own calls stay under them.
LIMITS = {"OCPP_RATE_PER_SECOND": "2", "OCPP_RATE_BURST": "5", "API_RATE_PER_SECOND": "1", "API_RATE_BURST": "4",
          "FORWARD_RATE_PER_SECOND": "1", "FORWARD_RATE_BURST": "8", "BRUTE_FORCE_SOURCE_FAILURES": "12"}
ATTACKER, BOX_ADDRESS = "127.0.0.2", "127.0.0.1"


@pytest.fixture(scope="session")
def limited_server(start_daphne) -> str:
    return start_daphne(**LIMITS)


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class Http:
    """A real HTTP client from ``source``."""

    def __init__(self, base_url: str, source: str = BOX_ADDRESS):
        parts = urlsplit(base_url)
        self.host, self.port, self.source = parts.hostname, parts.port, source

    def request(self, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30, source_address=(self.source, 0))
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def json(self, method: str, path: str, document=None, headers: dict | None = None):
        body = json.dumps(document) if document is not None else None
        status, response_headers, content = self.request(
            method, path, body, {"Content-Type": "application/json", **(headers or {})})
        return status, response_headers, (json.loads(content) if content else None)
