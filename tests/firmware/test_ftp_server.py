"""The FTP server (DESIGN.md §3, EVCHONG rule 1 h) from outside, with Python's own FTP client: a box
fetches an image from the URL addfirmware printed, over FTP or over FTPS at the same address;
nobody writes to the firmware area and nobody without the URL's credentials reads; a diagnostics
upload takes files from its own credentials only, up to its limit."""

import ftplib
import hashlib
import io
import json
import re
import socket
import ssl
import struct
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from django.conf import settings
from django.utils import timezone

from firmware.credentials import ftp_password
from firmware.ftprecord import ftp_record_read
from firmware.models import FileTransfer, FirmwareImage, TransferDirection
from firmware.services import diagnostics_upload_open

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = hashlib.sha512(b"keli").digest() * 4096 + b"end of image"  # 256 KiB and a bit: several reads


def client(ftp_server, tls: bool = False) -> ftplib.FTP:
    if tls:
        # The server's self-signed certificate is the one trusted: a verified FTPS session.
        ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=str(ftp_server["cert"])))
    else:
        ftp = ftplib.FTP()
    ftp.connect(ftp_server["host"], ftp_server["port"], timeout=15)
    return ftp


def credentials(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.username, parts.password


def login(ftp_server, url: str, tls: bool = False) -> ftplib.FTP:
    ftp = client(ftp_server, tls)
    ftp.login(*credentials(url))  # FTP_TLS: AUTH TLS first, then USER and PASS
    if tls:
        ftp.prot_p()
    return ftp


def fetch(ftp: ftplib.FTP, path: str) -> bytes:
    data = io.BytesIO()
    ftp.retrbinary(f"RETR {path}", data.write)
    return data.getvalue()


def store(ftp: ftplib.FTP, path: str, content: bytes) -> str:
    return ftp.storbinary(f"STOR {path}", io.BytesIO(content))


def server_log(ftp_server) -> str:
    return Path(ftp_server["log"]).read_text()


@pytest.fixture
def image(add_firmware) -> dict:
    return add_firmware(IMAGE, version="2.0.1", name="keli-2.0.1.bin", vendor="Keli", model="K7")


@pytest.fixture
def upload(make_box):
    return diagnostics_upload_open(box=make_box("DIAG-1"), max_bytes=4096)


@pytest.mark.parametrize("tls", [False, True], ids=["ftp", "ftps"])
def test_a_box_fetches_the_image_from_the_url_addfirmware_printed(ftp_server, image, tls):
    ftp = login(ftp_server, image["url"], tls=tls)
    content = fetch(ftp, unquote(urlsplit(image["url"]).path))
    ftp.quit()
    assert hashlib.sha256(content).hexdigest() == image["sha256"] == hashlib.sha256(IMAGE).hexdigest()


def test_the_image_is_found_by_its_name_too_and_is_all_its_credentials_list(ftp_server, image):
    ftp = login(ftp_server, image["url"])
    assert ftp.pwd() == "/"
    assert ftp.nlst() == ["keli-2.0.1.bin"]
    ftp.voidcmd("TYPE I")
    assert ftp.size("keli-2.0.1.bin") == len(IMAGE)
    assert hashlib.sha256(fetch(ftp, "keli-2.0.1.bin")).hexdigest() == image["sha256"]
    ftp.quit()


def test_ftps_presents_the_self_signed_certificate_made_under_ftp_tls_dir(ftp_server):
    cert = Path(settings.FTP_TLS_DIR) / "cert.pem"
    assert cert == ftp_server["cert"] and (Path(settings.FTP_TLS_DIR) / "key.pem").stat().st_mode & 0o077 == 0
    ftp = client(ftp_server, tls=True)
    ftp.auth()
    presented = ftp.sock.getpeercert(binary_form=True)
    ftp.close()
    assert presented == ssl.PEM_cert_to_DER_cert(cert.read_text())


def test_passive_data_connections_use_ftp_passive_ports(ftp_server, image):
    first, last = map(int, settings.FTP_PASSIVE_PORTS.split("-"))
    ftp = login(ftp_server, image["url"])
    ftp.voidcmd("TYPE I")
    _, port = ftp.makepasv()
    ftp.close()
    assert first <= port <= last


@pytest.mark.parametrize("username", ["anonymous", "ftp"])
def test_anonymous_login_is_refused(ftp_server, image, username):
    ftp = client(ftp_server)
    with pytest.raises(ftplib.error_perm, match="^530"):
        ftp.login(username, "box@example.com")
    ftp.close()
    assert f"FTP login of '{username}' from 127.0.0.1 refused: anonymous login refused" in server_log(ftp_server)


def test_a_wrong_password_is_refused(ftp_server, image):
    username = urlsplit(image["url"]).username
    ftp = client(ftp_server, tls=True)
    with pytest.raises(ftplib.error_perm, match="^530 Authentication failed"):
        ftp.login(username, "0" * 32)
    ftp.close()
    assert f"FTP login of '{username}' from 127.0.0.1 refused: wrong password" in server_log(ftp_server)


def test_the_credentials_of_a_deleted_image_no_longer_open(ftp_server, image):
    FirmwareImage.objects.filter(pk=image["id"]).delete()
    ftp = client(ftp_server)
    with pytest.raises(ftplib.error_perm, match="^530"):
        ftp.login(*credentials(image["url"]))
    ftp.close()


@pytest.mark.parametrize("command", [
    "STOR new.bin", "STOR keli-2.0.1.bin", "APPE keli-2.0.1.bin", "STOU", "DELE keli-2.0.1.bin",
    "MKD more", "RNFR keli-2.0.1.bin",
])
def test_nobody_writes_to_the_firmware_area_with_an_images_credentials(ftp_server, image, command):
    refusal = re.compile(rf"\[{credentials(image['url'])[0]}\] {command.split()[0]} .*refused: 550")
    logged_before = len(refusal.findall(server_log(ftp_server)))
    ftp = login(ftp_server, image["url"])
    with pytest.raises(ftplib.error_perm, match="^550"):
        if command.split()[0] in {"STOR", "APPE", "STOU"}:
            ftp.storbinary(command, io.BytesIO(b"not firmware"))
        else:
            ftp.voidcmd(command)
    ftp.quit()
    assert len(refusal.findall(server_log(ftp_server))) == logged_before + 1  # the reason is in the log
    stored = FirmwareImage.objects.get(pk=image["id"])
    assert Path(stored.file.path).read_bytes() == IMAGE and [p.name for p in Path(stored.file.path).parent.iterdir()] \
        == ["keli-2.0.1.bin"]


def test_nobody_writes_to_the_firmware_area_with_a_diagnostics_upload_credentials(ftp_server, image, upload):
    stored = FirmwareImage.objects.get(pk=image["id"])
    ftp = login(ftp_server, upload.url)
    for target in [f"../../firmware/{stored.ftp_username}/keli-2.0.1.bin", f"{stored.file.path}",
                   "../../firmware/planted.bin"]:
        with pytest.raises(ftplib.error_perm, match="^550"):
            store(ftp, target, b"not firmware")
    ftp.quit()
    assert Path(stored.file.path).read_bytes() == IMAGE
    assert not (Path(settings.MEDIA_ROOT) / "firmware" / "planted.bin").exists()


@pytest.mark.parametrize("path", [
    "../../outside.txt", "/../../outside.txt", "../../../../../../etc/passwd", "/etc/passwd",
    "..%2F..%2Foutside.txt", "..\\..\\outside.txt",
])
def test_a_path_that_leads_out_of_the_credentials_directory_reads_nothing(ftp_server, image, path):
    # Two levels up from an image's directory (MEDIA_ROOT/firmware/fw-...) is MEDIA_ROOT itself.
    (Path(settings.MEDIA_ROOT) / "outside.txt").write_text("not for boxes")
    ftp = login(ftp_server, image["url"])
    with pytest.raises(ftplib.error_perm, match="^550"):
        fetch(ftp, path)
    ftp.quit()


def test_one_images_credentials_do_not_read_another_image(ftp_server, image, add_firmware):
    other = add_firmware(b"other vendor's firmware", version="9.9", name="other.bin")
    other_dir = FirmwareImage.objects.get(pk=other["id"]).ftp_username
    ftp = login(ftp_server, image["url"])
    for path in [f"../{other_dir}/other.bin", f"/../{other_dir}/other.bin", "other.bin"]:
        with pytest.raises(ftplib.error_perm, match="^550"):
            fetch(ftp, path)
    ftp.cwd("..")  # the root's parent is the root (a virtual chroot)
    assert ftp.pwd() == "/" and ftp.nlst() == ["keli-2.0.1.bin"]
    ftp.quit()


def test_a_diagnostics_upload_takes_a_file_from_its_own_credentials(ftp_server, upload):
    ftp = login(ftp_server, upload.url, tls=True)
    assert store(ftp, "DIAG-1-20261201.log", b"diagnostics " * 100).startswith("226")
    ftp.quit()
    received = Path(settings.MEDIA_ROOT) / upload.directory / "DIAG-1-20261201.log"
    assert received.read_bytes() == b"diagnostics " * 100
    transfer = FileTransfer.objects.get(diagnostics_upload=upload)
    assert (transfer.box.serial, transfer.direction, transfer.bytes, transfer.completed, transfer.tls) == (
        "DIAG-1", TransferDirection.UPLOAD, 1200, True, True)


def test_a_diagnostics_upload_is_write_only(ftp_server, upload):
    ftp = login(ftp_server, upload.url)
    store(ftp, "box.log", b"log")  # storbinary leaves the session in TYPE I, where SIZE is allowed
    for read in (lambda: fetch(ftp, "box.log"), lambda: ftp.nlst(), lambda: ftp.size("box.log"),
                 lambda: ftp.voidcmd("DELE box.log"), lambda: ftp.mkd("sub")):
        with pytest.raises(ftplib.error_perm, match="^550"):
            read()
    ftp.quit()


def test_a_diagnostics_upload_over_its_size_limit_is_refused_and_not_kept(ftp_server, upload):
    ftp = login(ftp_server, upload.url)
    store(ftp, "first.log", b"x" * 3000)
    with pytest.raises(ftplib.error_perm, match="^552 Upload aborted: over the diagnostics upload's limit of 4096"):
        store(ftp, "second.log", b"y" * 2000)  # 3000 + 2000 > 4096
    ftp.quit()
    directory = Path(settings.MEDIA_ROOT) / upload.directory
    assert [p.name for p in directory.iterdir()] == ["first.log"]
    refused = FileTransfer.objects.get(file_name="second.log")
    assert not refused.completed and refused.problem == "over the diagnostics upload's limit of 4096 bytes"
    assert (f"[{upload.ftp_username}] upload aborted: over the diagnostics upload's limit of 4096 bytes"
            in server_log(ftp_server))


def test_no_other_credentials_write_into_a_diagnostics_upload(ftp_server, upload, image, make_box):
    other = diagnostics_upload_open(box=make_box("DIAG-2"), max_bytes=4096)
    for url, path in [(other.url, f"../{upload.ftp_username}/planted.log"), (image["url"], "planted.log")]:
        ftp = login(ftp_server, url)
        with pytest.raises(ftplib.error_perm, match="^550"):
            store(ftp, path, b"planted")
        ftp.quit()
    ftp = client(ftp_server)
    with pytest.raises(ftplib.error_perm, match="^530"):
        ftp.login(upload.ftp_username, ftp_password(other.ftp_username))
    ftp.close()
    assert not list((Path(settings.MEDIA_ROOT) / upload.directory).glob("planted.log"))


def test_an_expired_diagnostics_upload_is_refused(ftp_server, upload):
    type(upload).objects.filter(pk=upload.pk).update(expires=timezone.now() - timedelta(seconds=1))
    ftp = client(ftp_server)
    with pytest.raises(ftplib.error_perm, match="^530"):
        ftp.login(*credentials(upload.url))
    ftp.close()
    assert "refused: the diagnostics upload of DIAG-1 expired at" in server_log(ftp_server)


def test_each_download_is_recorded_with_its_credential_address_size_and_outcome(ftp_server, image):
    ftp = login(ftp_server, image["url"], tls=True)
    fetch(ftp, "keli-2.0.1.bin")
    ftp.quit()
    transfer = FileTransfer.objects.get(image_id=image["id"])
    assert (transfer.username, transfer.direction, transfer.bytes, transfer.completed, transfer.tls,
            transfer.remote_address, transfer.file_name) == (
        urlsplit(image["url"]).username, TransferDirection.DOWNLOAD, len(IMAGE), True, True, "127.0.0.1",
        "keli-2.0.1.bin")
    assert f"RETR {FirmwareImage.objects.get().file.path} completed=1 bytes={len(IMAGE)}" in server_log(ftp_server)


def test_a_download_broken_off_is_recorded_as_incomplete(ftp_server, add_firmware, wait_for):
    # Larger than what the kernel's socket buffers on loopback take in at once, or the server
    # would have handed all of it over before the box let go.
    big = add_firmware(IMAGE * 128, name="big.bin")
    ftp = login(ftp_server, big["url"])
    ftp.voidcmd("TYPE I")
    data = ftp.transfercmd("RETR big.bin")
    data.recv(1024)
    data.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    data.close()  # a reset: the box lost its link half-way
    ftp.close()
    wait_for(lambda: FileTransfer.objects.filter(image_id=big["id"]).exists())
    transfer = FileTransfer.objects.get(image_id=big["id"])
    assert not transfer.completed and transfer.bytes < len(IMAGE) * 128


def test_a_port_probe_that_leaves_at_once_leaves_no_traceback(ftp_server, image):
    for _ in range(3):
        socket.create_connection((ftp_server["host"], ftp_server["port"]), timeout=5).close()
    ftp = login(ftp_server, image["url"])  # still serving
    ftp.quit()
    assert "Traceback" not in server_log(ftp_server)


def test_the_server_records_where_it_listens_and_reads_for_manage_py_commands(ftp_server):
    recorded = json.loads(ftp_server["record"].read_text())
    assert recorded == {"pid": ftp_server["process"].pid, "host": "127.0.0.1", "port": ftp_server["port"],
                        "public_host": "127.0.0.1", "media_root": settings.MEDIA_ROOT.as_posix()}
    assert ftp_record_read(ftp_server["record"]) == recorded


def test_a_record_left_by_a_server_that_is_gone_is_ignored(tmp_path):
    path = tmp_path / "ftpserver.json"
    path.write_text(json.dumps({"pid": 2**22 + 1, "port": 2199}))  # above Linux's largest pid
    assert ftp_record_read(path) == {}
