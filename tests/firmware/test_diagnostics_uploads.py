"""Diagnostics uploads: a place on the FTP server for one box's GetDiagnostics file, opened from
the command line or the admin, whose URL carries credentials of its own."""

import io
import json
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from firmware.credentials import ftp_password_valid
from firmware.models import DiagnosticsUpload


def test_diagnosticsupload_prints_the_location_for_getdiagnostics(make_box):
    make_box("DG-1")
    out = io.StringIO()
    call_command("diagnosticsupload", "DG-1", "--max-bytes", "1000", "--hours", "2", stdout=out)
    printed = json.loads(out.getvalue())
    upload = DiagnosticsUpload.objects.get()
    url = urlsplit(printed["url"])
    assert (printed["id"], printed["box"], printed["maxBytes"]) == (upload.pk, "DG-1", 1000)
    assert (url.scheme, url.hostname, url.port, url.path) == ("ftp", "127.0.0.1", settings.FTP_PORT, "/")
    assert url.username == upload.ftp_username and ftp_password_valid(url.username, url.password)
    hours_open = (datetime.fromisoformat(printed["expires"]) - upload.created).total_seconds() / 3600
    assert round(hours_open, 3) == 2


def test_diagnosticsupload_takes_the_settings_by_default(make_box):
    make_box("DG-1")
    call_command("diagnosticsupload", "DG-1", stdout=io.StringIO())
    assert DiagnosticsUpload.objects.get().max_bytes == settings.DIAGNOSTICS_MAX_BYTES


@pytest.mark.parametrize("args, problem", [
    (["GHOST"], "unknown charge box GHOST"),
    (["DG-1", "--max-bytes", "0"], "max_bytes: the size limit must be at least 1 byte"),
    (["DG-1", "--hours", "0"], "hours: the upload must stay open for some time"),
])
def test_diagnosticsupload_refuses_bad_input_with_the_reason(make_box, args, problem):
    make_box("DG-1")
    with pytest.raises(CommandError, match=problem):
        call_command("diagnosticsupload", *args, stdout=io.StringIO())


def test_admin_opens_an_upload_and_shows_its_url(admin_client, make_box):
    box = make_box("DG-1")
    form = admin_client.get("/admin/firmware/diagnosticsupload/add/")
    assert str(settings.DIAGNOSTICS_MAX_BYTES) in form.content.decode()
    response = admin_client.post("/admin/firmware/diagnosticsupload/add/", {
        "box": box.pk, "max_bytes": 2048, "expires_0": "2030-01-01", "expires_1": "00:00:00"})
    assert response.status_code == 302, response.content
    upload = DiagnosticsUpload.objects.get()
    assert upload.max_bytes == 2048
    page = admin_client.get(f"/admin/firmware/diagnosticsupload/{upload.pk}/change/").content.decode()
    assert upload.url in page


def test_admin_lists_file_transfers_read_only(admin_client):
    assert admin_client.get("/admin/firmware/filetransfer/").status_code == 200
    assert admin_client.get("/admin/firmware/filetransfer/add/").status_code == 403
