"""Firmware images (DESIGN.md §3 "Firmware and diagnostics files"): addfirmware and the admin
store an image through the storage API with its size and checksums, and give it a URL whose
credentials are its own."""

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from firmware.credentials import ftp_password, ftp_password_valid
from firmware.models import FirmwareImage

IMAGE = bytes(range(256)) * 64 + b"keli firmware 2.0.1"


def test_addfirmware_prints_one_json_line_with_id_version_url_and_checksums(add_firmware):
    printed = add_firmware(IMAGE, version="2.0.1", vendor="Keli", model="K7")
    image = FirmwareImage.objects.get()
    assert printed == {"id": image.pk, "version": "2.0.1", "url": printed["url"],
                       "md5": hashlib.md5(IMAGE).hexdigest(), "sha256": hashlib.sha256(IMAGE).hexdigest()}
    assert (image.vendor, image.model, image.size) == ("Keli", "K7", len(IMAGE))


def test_the_url_is_ftp_on_the_configured_address_with_the_images_own_credentials(add_firmware):
    url = urlsplit(add_firmware(IMAGE, name="keli-2.0.1.bin")["url"])
    image = FirmwareImage.objects.get()
    assert (url.scheme, url.hostname, url.port, url.path) == ("ftp", "127.0.0.1", settings.FTP_PORT,
                                                            "/keli-2.0.1.bin")
    assert url.username == image.ftp_username and url.password == ftp_password(image.ftp_username)
    assert ftp_password_valid(url.username, url.password)


def test_each_image_has_credentials_of_its_own(add_firmware):
    first = urlsplit(add_firmware(IMAGE, version="1.0")["url"])
    second = urlsplit(add_firmware(IMAGE, version="1.0")["url"])
    assert first.username != second.username and first.password != second.password
    assert not ftp_password_valid(second.username, first.password)


def test_the_image_is_stored_through_the_storage_under_media_root(add_firmware):
    add_firmware(IMAGE, name="keli-2.0.1.bin")
    image = FirmwareImage.objects.get()
    stored = Path(image.file.path)
    assert stored.read_bytes() == IMAGE
    assert stored.parent == Path(settings.MEDIA_ROOT) / "firmware" / image.ftp_username
    assert stored.name == "keli-2.0.1.bin"


def test_a_name_with_spaces_is_stored_under_a_name_that_fits_in_a_url(add_firmware):
    url = add_firmware(IMAGE, name="Keli K7 2.0.bin")["url"]
    assert url.endswith("/Keli_K7_2.0.bin")


def test_deleting_an_image_deletes_its_file(add_firmware):
    add_firmware(IMAGE)
    image = FirmwareImage.objects.get()
    path = Path(image.file.path)
    FirmwareImage.objects.all().delete()
    assert not path.exists()


def test_a_password_made_with_a_key_being_rotated_out_still_opens(settings):
    old = ftp_password("fw-0123456789abcdef")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-key-" * 5, [settings.SECRET_KEY]
    assert ftp_password_valid("fw-0123456789abcdef", old)
    settings.SECRET_KEY_FALLBACKS = []
    assert not ftp_password_valid("fw-0123456789abcdef", old)


@pytest.mark.parametrize("content, version, problem", [
    (b"", "2.0", "'empty.bin' is empty"),
    (IMAGE, "  ", "the firmware version is empty"),
    (IMAGE, "v" * 51, "the version is longer than 50 characters"),
])
def test_addfirmware_refuses_bad_input_with_the_reason(db, tmp_path, content, version, problem):
    path = tmp_path / "empty.bin"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=problem):
        call_command("addfirmware", str(path), "--version", version, stdout=io.StringIO())
    assert not FirmwareImage.objects.exists()
    assert not list((Path(settings.MEDIA_ROOT) / "firmware").glob("*/empty.bin"))


def test_addfirmware_of_a_missing_file_says_so(db, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("addfirmware", str(tmp_path / "nope.bin"), "--version", "1", stdout=io.StringIO())


def test_addfirmware_from_the_command_line_prints_only_the_json_line(server_env, ftp_settings, tmp_path,
                                                                      transactional_db):
    path = tmp_path / "cli.bin"
    path.write_bytes(IMAGE)
    done = subprocess.run([sys.executable, "manage.py", "addfirmware", str(path), "--version", "3.1",
                           "--vendor", "Keli"], env={**server_env, **ftp_settings},
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, check=True)
    [line] = done.stdout.splitlines()
    printed = json.loads(line)
    assert (printed["version"], printed["sha256"]) == ("3.1", hashlib.sha256(IMAGE).hexdigest())
    assert FirmwareImage.objects.get(pk=printed["id"]).vendor == "Keli"


def test_admin_upload_computes_size_and_checksums(admin_client):
    upload = SimpleUploadedFile("k7-2.2.bin", IMAGE, content_type="application/octet-stream")
    response = admin_client.post("/admin/firmware/firmwareimage/add/",
                                 {"file": upload, "version": "2.2", "vendor": "Keli", "model": "K7"})
    assert response.status_code == 302, response.content
    image = FirmwareImage.objects.get()
    assert (image.size, image.md5, image.sha256) == (len(IMAGE), hashlib.md5(IMAGE).hexdigest(),
                                                     hashlib.sha256(IMAGE).hexdigest())
    assert Path(image.file.path).read_bytes() == IMAGE
    page = admin_client.get(f"/admin/firmware/firmwareimage/{image.pk}/change/").content.decode()
    assert image.url in page and image.sha256 in page


def test_admin_upload_of_an_empty_file_is_refused_naming_it(admin_client):
    upload = SimpleUploadedFile("empty.bin", b"", content_type="application/octet-stream")
    response = admin_client.post("/admin/firmware/firmwareimage/add/", {"file": upload, "version": "2.2"})
    assert response.status_code == 200
    assert not FirmwareImage.objects.exists()
    assert "empty" in response.content.decode()
