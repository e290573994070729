"""UpdateFirmware to a Kotodian box through the operations API: an image of ours (addfirmware) is sent
with its MD5 for the box's updater to check, and the box's yes opens the update we follow, as for
an OCPP box (commands.effects)."""

import hashlib
import io
import json

from django.core.management import call_command
from kotodian_commands import booted_box, command

from firmware.models import FirmwareUpdate
from kotodian.proto import charger_pb2 as pb


def test_update_firmware_of_our_image_carries_its_md5(fast_server, api_token, celery_worker, kotodian_box, make_box,
                                                      serial, tmp_path):
    image = tmp_path / "kt-2.0.bin"
    image.write_bytes(b"\x7fKOTODIAN" * 1000)
    out = io.StringIO()
    call_command("addfirmware", str(image), "--version", "2.0", stdout=out)
    added = json.loads(out.getvalue())
    box = booted_box(kotodian_box, make_box, serial, {pb.ID_UpdateFirmwareReq: pb.UpdateFirmwareConf(status=0)})
    code, body = command(fast_server, api_token, serial, "UpdateFirmware",
                         {"location": added["url"], "retrieveDate": "2026-12-06T00:00:00Z", "retries": 2})
    assert body["state"] == "accepted", body
    request = box.requests.get(timeout=5).message
    assert (request.url, request.checksum, request.retries) == (
        added["url"], hashlib.md5(image.read_bytes()).hexdigest(), 2)
    update = FirmwareUpdate.objects.get(box__serial=serial)
    assert (update.image_id, update.location) == (added["id"], added["url"])


def test_a_location_not_ours_goes_without_a_checksum(fast_server, api_token, celery_worker, kotodian_box, make_box,
                                                     serial):
    box = booted_box(kotodian_box, make_box, serial, {pb.ID_UpdateFirmwareReq: pb.UpdateFirmwareConf(status=1)})
    code, body = command(fast_server, api_token, serial, "UpdateFirmware",
                         {"location": "ftp://vendor.example/kt.bin", "retrieveDate": "2026-12-06T00:00:00Z"})
    assert body["state"] == "rejected", body
    assert box.requests.get(timeout=5).message.checksum == ""
    assert not FirmwareUpdate.objects.filter(box__serial=serial).exists()  # the box said no
