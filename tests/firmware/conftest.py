"""Firmware images and diagnostics files on a private MEDIA_ROOT, served by the real FTP server
(``manage.py ftpserver``) on a free port against the test database."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ftp_settings(tmp_path_factory) -> dict:
    """What the FTP server and this process agree on: files under a MEDIA_ROOT of the session's own,
    the self-signed certificate made in a directory of its own, a free control port and a small
    range of passive ports."""
    first = random.randrange(40000, 59000)
    found = {
        "MEDIA_ROOT": str(tmp_path_factory.mktemp("media")),
        "FTP_TLS_DIR": str(tmp_path_factory.mktemp("ftp-tls")),
        "FTP_HOST": "127.0.0.1",
        "FTP_PUBLIC_HOST": "127.0.0.1",
        "FTP_PORT": str(free_port()),
        "FTP_PASSIVE_PORTS": f"{first}-{first + 19}",
        "DIAGNOSTICS_MAX_BYTES": "4096",
    }
    return found


@pytest.fixture(autouse=True)
def _media_root(ftp_settings):
    """Every firmware test writes files under the session's MEDIA_ROOT, never under var/, and agrees
    with the FTP server on its address. Per test, not for the session: the tests of other
    directories that run later (tests/kotodian) compare URLs with servers started without these."""
    overrides = {**ftp_settings, "FTP_PORT": int(ftp_settings["FTP_PORT"]), "DIAGNOSTICS_MAX_BYTES": 4096,
                 "MEDIA_ROOT": Path(ftp_settings["MEDIA_ROOT"]), "FTP_TLS_DIR": Path(ftp_settings["FTP_TLS_DIR"])}
    with override_settings(**overrides):
        yield


@pytest.fixture(scope="session")
def ftp_server(server_env, ftp_settings) -> dict:
    """The real FTP server, started once: ``{"host", "port", "cert", "log"}``."""
    log_dir = Path(os.environ.get("EVCHONG_VAR") or ftp_settings["FTP_TLS_DIR"])
    log_path = log_dir / f"ftpserver-{ftp_settings['FTP_PORT']}.log"
    record = Path(ftp_settings["FTP_TLS_DIR"]) / "ftpserver.json"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "manage.py", "ftpserver", "--record", str(record)],
                                env={**server_env, **ftp_settings}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(int(ftp_settings["FTP_PORT"]), proc)
        yield {"host": "127.0.0.1", "port": int(ftp_settings["FTP_PORT"]), "log": log_path, "record": record,
               "cert": Path(ftp_settings["FTP_TLS_DIR"]) / "cert.pem", "process": proc}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def add_firmware(db, tmp_path):
    """``add_firmware(content, version=..., name=..., vendor=...) -> what addfirmware printed, parsed``."""

    def add(content: bytes, version: str = "2.0.1", name: str = "keli-2.0.1.bin", **options) -> dict:
        path = tmp_path / name
        path.write_bytes(content)
        args = [str(path), "--version", version]
        for key, value in options.items():
            args += [f"--{key}", value]
        out = io.StringIO()
        call_command("addfirmware", *args, stdout=out)
        return json.loads(out.getvalue())

    return add


# The simulator's box runner (tests/simulator/boxrunner.py): its folder has no package to import from.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "simulator"))
