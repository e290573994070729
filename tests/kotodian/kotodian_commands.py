"""The operations API (POST /api/v1/boxes/{serial}/commands) to a Kotodian box, for the command tests
(the token: conftest's ``api_token``): a booted box that answers the calls it is given answers
for, and the call itself over real HTTP to daphne (the worker in the test process publishes, the
bridge settles)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

OPEN = ("queued", "sent")

def http(server: str, token: str, method: str, path: str, body=None) -> tuple[int, dict]:
    request = urllib.request.Request(f"{server}{path}", method=method, headers={
        "Content-Type": "application/json", "Authorization": f"Token {token}"},
        data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def command(server: str, token: str, serial: str, action: str, payload: dict, wait: bool = True) -> tuple[int, dict]:
    """The POST, and with ``wait`` the command once it is closed. Read again until then: a reply
    left in Redis by an earlier run of the suite under the same command id (the test database
    starts its ids again, Redis keeps its lists) can end the API's wait early."""
    code, body = http(server, token, "POST", f"/api/v1/boxes/{serial}/commands",
                      {"action": action, "payload": payload, "wait": wait})
    deadline = time.monotonic() + 15
    while wait and code == 200 and body["state"] in OPEN and time.monotonic() < deadline:
        time.sleep(0.1)
        code, body = http(server, token, "GET", f"/api/v1/commands/{body['id']}")
    return code, body


def booted_box(kotodian_box, make_box, serial: str, answers: dict, **options):
    """A box added with ``addbox``, registered and booted, answering the system's requests from ``answers``."""
    make_box(serial, connectors=2, **options)
    box = kotodian_box(serial, answers=answers)
    assert box.register().message.status == 0
    assert box.boot().message.status == 0
    return box
