"""Firmware updates followed from the command to the boot: an UpdateFirmware the box accepts opens
one, the box's FirmwareStatusNotifications move it on, and a boot reporting the image's version
confirms it."""

import json
import urllib.request

import pytest

from commands.models import Command
from firmware.models import FirmwareUpdate
from firmware.services import firmware_updates_confirm
from firmware.tasks import updates_confirm
from simbox import SimBox

BOOT = {"chargePointVendor": "Keli", "chargePointModel": "K7"}


def update_firmware(server: str, token: str, location: str) -> dict:
    request = urllib.request.Request(
        f"{server}/evchong-api/reverse/v1/UpdateFirmware", method="POST",
        data=json.dumps({"chargeBoxSerialNumber": "FU-1", "location": location,
                         "retrieveDate": "2026-12-01 02:00:00"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def box(fast_server, transactional_db, make_box, celery_worker):
    make_box("FU-1", connectors=1)
    with SimBox(fast_server, "FU-1", {"UpdateFirmware": {}}) as box:
        yield box


def test_an_accepted_update_follows_the_box_until_it_boots_with_the_new_version(fast_server, box, backend_token,
                                                                                 add_firmware):
    image = add_firmware(b"keli k7 2.0.1", version="2.0.1")
    assert update_firmware(fast_server, backend_token, image["url"]) == {"status": "Accepted"}
    update = FirmwareUpdate.objects.get()
    assert (update.box.serial, update.image_id, update.location, update.command.action, update.state) == (
        "FU-1", image["id"], image["url"], "UpdateFirmware", "Accepted")

    for status in ("Downloading", "Downloaded", "Installing", "Installed"):
        box.call("FirmwareStatusNotification", {"status": status})
        update.refresh_from_db()
        assert update.state == status and update.last_status_at is not None

    box.call("BootNotification", {**BOOT, "firmwareVersion": "2.0.0"})  # the old one: not yet
    assert firmware_updates_confirm() == 0
    box.call("BootNotification", {**BOOT, "firmwareVersion": "2.0.1"})
    assert updates_confirm() == 1  # the beat's task
    update.refresh_from_db()
    assert update.state == "Confirmed" and update.confirmed_at == update.box.last_boot
    box.call("FirmwareStatusNotification", {"status": "Idle"})
    update.refresh_from_db()
    assert update.state == "Confirmed"


def test_a_failed_download_is_the_updates_state_until_the_box_tries_again(fast_server, box, backend_token,
                                                                          add_firmware):
    update_firmware(fast_server, backend_token, add_firmware(b"image", version="3.0")["url"])
    box.call("FirmwareStatusNotification", {"status": "DownloadFailed"})
    assert FirmwareUpdate.objects.get().state == "DownloadFailed"
    box.call("FirmwareStatusNotification", {"status": "Downloading"})
    assert FirmwareUpdate.objects.get().state == "Downloading"


def test_statuses_move_only_the_boxs_newest_update(fast_server, box, backend_token, add_firmware):
    update_firmware(fast_server, backend_token, add_firmware(b"one", version="1")["url"])
    update_firmware(fast_server, backend_token, "ftp://fw.example.com/two.bin")
    box.call("FirmwareStatusNotification", {"status": "Downloaded"})
    older, newer = FirmwareUpdate.objects.order_by("id")
    assert (older.state, newer.state, newer.image) == ("Accepted", "Downloaded", None)


def test_an_update_refused_by_rule_h_or_by_the_box_opens_none(fast_server, box, backend_token):
    assert update_firmware(fast_server, backend_token, "https://fw.example.com/x.bin")["status"] == "Rejected"
    del box.answers["UpdateFirmware"]  # a silent box: the call times out
    assert update_firmware(fast_server, backend_token, "ftp://fw.example.com/x.bin")["status"] == "Rejected"
    assert Command.objects.filter(action="UpdateFirmware").count() == 2
    assert not FirmwareUpdate.objects.exists()
