"""EVCHONG rule 1 h (firmware is downloaded over FTP or FTPS) on the reverse API: an UpdateFirmware
whose location is anything else is Rejected, with the rule named, and never reaches the box. The
operations API sends whatever location it is given."""

import json
import urllib.error
import urllib.request

import pytest
from django.test import Client

from commands.models import Command
from simbox import SimBox

URL = "/evchong-api/reverse/v1/UpdateFirmware"
LATER = "2026-12-01 02:00:00"


def post(url: str, body: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("location", ["http://fw.example.com/keli-2.1.bin", "https://fw.example.com/keli-2.1.bin",
                                      "sftp://deploy@10.1.2.3/fw.bin", "HTTP://FW/x.bin"])
def test_a_location_that_is_not_ftp_or_ftps_is_rejected_naming_rule_h(make_connected_box, backend_token, location):
    make_connected_box("RH-1")
    response = Client(HTTP_AUTHORIZATION=f"Token {backend_token}").post(
        URL, {"chargeBoxSerialNumber": "RH-1", "location": location, "retrieveDate": LATER},
        content_type="application/json")
    scheme = location.partition("://")[0].lower()
    assert (response.status_code, response.json()) == (200, {"status": "Rejected", "message": (
        "EVCHONG rule h (section 1 h): firmware is downloaded over FTP or FTPS only; the location must be an "
        f"ftp:// or ftps:// URL, not {scheme}://")})
    command = Command.objects.get()  # kept, as every refused command is, with who asked and why
    assert (command.action, command.state, command.payload["location"], command.source) == (
        "UpdateFirmware", "rejected", location, "reverse-api")
    assert command.sent_at is None and "rule h" in command.error_description


@pytest.fixture
def connected(fast_server, transactional_db, make_box, celery_worker):
    make_box("RH-1", connectors=1)
    with SimBox(fast_server, "RH-1", {"UpdateFirmware": {}}) as box:
        yield box


def test_an_http_location_never_reaches_the_box_and_an_ftp_one_does(fast_server, connected, backend_token,
                                                                       add_firmware):
    body = {"chargeBoxSerialNumber": "RH-1", "retrieveDate": LATER}
    status, answer = post(f"{fast_server}{URL}", {**body, "location": "http://fw.example.com/k.bin"}, backend_token)
    assert (status, answer["status"]) == (200, "Rejected") and "rule h" in answer["message"]
    ftp_url = add_firmware(b"firmware for RH-1")["url"]
    status, answer = post(f"{fast_server}{URL}", {**body, "location": ftp_url}, backend_token)
    assert (status, answer) == (200, {"status": "Accepted"})
    assert [(action, sent["location"]) for action, sent in connected.calls] == [("UpdateFirmware", ftp_url)]


def test_the_operations_api_still_sends_an_https_location(fast_server, connected, backend_token):
    status, command = post(f"{fast_server}/api/v1/boxes/RH-1/commands", {
        "action": "UpdateFirmware", "wait": True,
        "payload": {"location": "https://fw.example.com/k.bin", "retrieveDate": "2026-12-01T00:00:00Z"}},
        backend_token)
    assert (status, command["state"]) == (200, "accepted")
    assert connected.calls == [("UpdateFirmware", {"location": "https://fw.example.com/k.bin",
                                                   "retrieveDate": "2026-12-01T00:00:00Z"})]
