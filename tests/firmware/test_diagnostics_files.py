"""Diagnostics end to end: a GetDiagnostics without a location gets a place on the system's own FTP
server; the simulated box uploads its file there (FTP or FTPS), says so, and the file is the box's,
downloadable from the admin and from the status page (login required), until the sweep deletes it.
And a firmware status for an update the box never got is kept and flagged."""

import json
import urllib.request
from urllib.parse import urlsplit
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from boxrunner import BoxRunner, eventually
from chargers.models import ChargeBox
from commands.models import Command
from commands.services import command_issue
from firmware.models import DiagnosticsUpload, FileTransfer, FirmwareStatusEvent
from firmware.services import UNSOLICITED_STATUS, diagnostics_sweep
from firmware.tasks import diagnostics_sweep as diagnostics_sweep_task
from simbox import SimBox
from staff import PASSWORD


@pytest.fixture
def runner(fast_server, celery_worker, ftp_server):
    boxes = BoxRunner(fast_server)
    yield boxes
    boxes.close()


def uploaded(upload: DiagnosticsUpload):
    upload.refresh_from_db()
    return upload.last_status == "Uploaded" and upload.file_names()


@pytest.mark.parametrize("tls", [False, True], ids=["ftp", "ftps"])
def test_get_diagnostics_without_a_location_lands_the_file_on_the_box(runner, make_box, admin_client, field_engineer,
                                                                      tls):
    make_box("DG-1", connectors=1)
    sim = runner.box("DG-1", "T1", connectors=1, ftp_tls=tls, diagnostics_bytes=3000)
    box = ChargeBox.objects.get(serial="DG-1")
    command = command_issue(box=box, action="GetDiagnostics", payload={}, source="admin")
    upload = DiagnosticsUpload.objects.get(box=box)
    assert upload.command == command and command.payload["location"] == upload.url
    [name] = eventually(lambda: uploaded(upload), timeout=20, what="the upload")
    command.refresh_from_db()
    assert command.state == "accepted" and command.response == {"fileName": name}
    transfer = FileTransfer.objects.get(diagnostics_upload=upload)
    assert (transfer.box_id, transfer.direction, transfer.bytes, transfer.completed, transfer.tls) == (
        box.pk, "upload", 3000, True, tls)

    admin_page = admin_client.get(f"/admin/firmware/diagnosticsupload/{upload.pk}/change/")
    assert name.encode() in admin_page.content
    from_admin = admin_client.get(f"/admin/firmware/diagnosticsupload/{upload.pk}/file/{name}")
    body = b"".join(from_admin.streaming_content)
    assert len(body) == 3000 and f"DG-1 firmware {sim.firmware_version}".encode() in body[:80]
    assert admin_client.get(f"/admin/firmware/diagnosticsupload/{upload.pk}/file/other.log").status_code == 404

    status_url = f"/boxes/DG-1/diagnostics/{upload.pk}/{name}"
    anonymous = Client().get(status_url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    engineer = Client()
    assert engineer.login(username=field_engineer.username, password=PASSWORD)
    assert name.encode() in engineer.get("/boxes/DG-1/").content
    assert b"".join(engineer.get(status_url).streaming_content) == body
    assert engineer.get(f"/boxes/DG-1/diagnostics/{upload.pk}/other.log").status_code == 404

    # Kept for DIAGNOSTICS_KEEP_DAYS: the sweep deletes older uploads and their files.
    path = f"{upload.directory}/{name}"
    assert diagnostics_sweep_task() == 0 and default_storage.exists(path)
    DiagnosticsUpload.objects.filter(pk=upload.pk).update(created=timezone.now() - timedelta(days=31))
    assert diagnostics_sweep() == 1
    assert not default_storage.exists(path) and not DiagnosticsUpload.objects.exists()


def test_the_operations_api_fills_in_the_location(fast_server, celery_worker, ftp_server, make_box, backend_token):
    make_box("DG-2", connectors=1)
    with SimBox(fast_server, "DG-2", {"GetDiagnostics": {"fileName": "dg-2.log"}}):
        request = urllib.request.Request(
            f"{fast_server}/api/v1/boxes/DG-2/commands", method="POST",
            data=json.dumps({"action": "GetDiagnostics", "payload": {}, "wait": True}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Token {backend_token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = json.loads(answer.read())
    upload = DiagnosticsUpload.objects.get(box__serial="DG-2")
    # The server's own FTP address (this daphne runs with the default settings): the credential is the upload's.
    location = urlsplit(body["payload"]["location"])
    assert body["state"] == "accepted" and location.scheme == "ftp" and location.username == upload.ftp_username
    assert Command.objects.get(pk=body["id"]).diagnostics_upload == upload


def test_a_firmware_status_for_an_update_never_sent_is_kept_and_flagged(fast_server, transactional_db, make_box,
                                                                         admin_client):
    make_box("FS-1", connectors=1)
    with SimBox(fast_server, "FS-1") as box:
        assert box.call("FirmwareStatusNotification", {"status": "Downloading"}) == {}
        assert box.call("FirmwareStatusNotification", {"status": "Idle"}) == {}
    downloading, idle = FirmwareStatusEvent.objects.filter(box__serial="FS-1").order_by("id")
    assert (downloading.status, downloading.problem) == ("Downloading", UNSOLICITED_STATUS)
    assert (idle.status, idle.problem) == ("Idle", "")  # an answer to a trigger: nothing to flag
    listing = admin_client.get("/admin/firmware/firmwarestatusevent/?flagged=yes")
    assert UNSOLICITED_STATUS.encode() in listing.content and listing.content.count(b"FS-1") == 1
