"""The FTP server for firmware images and diagnostics files (EVCHONG rule 1 h: firmware is fetched
over FTP or FTPS; DESIGN.md §3; docs/adr/0015). pyftpdlib, with explicit TLS (AUTH TLS, RFC 4217)
offered and not required: plain FTP and FTPS share one port and one URL.

What a login may do comes from the database, per connection:
- a firmware image's credential (firmware.credentials) reads that image and nothing else;
- a diagnostics upload's credential writes files into that upload's own directory, up to its size
  limit in all, until it expires, and reads nothing;
- anyone else, anonymous included, is refused, with the reason in the log and not on the wire.
A credential's directory is its "/" (pyftpdlib's virtual root), so "../" and absolute paths lead
nowhere else, and the authorizer checks every path once more against what the credential may touch.

One thread per connection (ThreadedFTPServer): the database work at login and after each file would
otherwise stall every other box's transfer. Each thread hands its database connection back to the
pool as soon as it is done with it, so thousands of idle FTP sessions hold none.

Private pyftpdlib 2.2.0 names relied on (read them again before the pin moves): the DTP handler's
``_resp`` (the reply sent when it closes) and ``handle_error`` being called inside the ``except``
clause of the failed read.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import signal
import sys
from datetime import timedelta
from dataclasses import dataclass
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from django.utils import timezone
from pyftpdlib.exceptions import AuthenticationFailed
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler
from pyftpdlib.log import logger as pyftpdlib_logger
from pyftpdlib.servers import ThreadedFTPServer
from pyftpdlib.utils import is_ssl_sock

from firmware.credentials import DIAGNOSTICS_PREFIX, IMAGE_PREFIX, ftp_password_valid
from firmware.ftpcert import tls_files
from firmware.ftprecord import ftp_record_remove, ftp_record_write
from firmware.models import DiagnosticsUpload, FileTransfer, FirmwareImage, TransferDirection

log = logging.getLogger(__name__)

READ_PERMS = "elr"  # CWD, LIST/SIZE, RETR: what a box's updater may need before fetching
WRITE_PERMS = "ew"  # CWD, STOR/STOU: no reading, listing, appending, renaming or deleting
ANONYMOUS = {"anonymous", "ftp"}


@dataclass(frozen=True)
class Grant:
    """What one login may do."""

    username: str
    home: str  # the real path of the credential's directory, its "/"
    perms: str
    greeting: str
    readable: str = ""  # the one file a firmware credential reads
    max_bytes: int | None = None  # a diagnostics upload's limit, all its files together
    image_id: int | None = None
    upload_id: int | None = None
    box_id: int | None = None


def _released(function):
    @wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()  # back to the pool: an FTP session may stay open for minutes

    return run


@_released
def grant_for(username: str) -> tuple[Grant | None, str]:
    """What ``username`` may do, or None and why nothing."""
    if username.startswith(IMAGE_PREFIX):
        image = FirmwareImage.objects.filter(ftp_username=username).first()
        if image is None:
            return None, "no firmware image has this credential (deleted?)"
        path = os.path.realpath(image.file.path)
        return Grant(username=username, home=os.path.dirname(path), perms=READ_PERMS, readable=path,
                     image_id=image.pk, greeting=f"Firmware {image.version}: RETR {image.file_name}"), ""
    if username.startswith(DIAGNOSTICS_PREFIX):
        upload = DiagnosticsUpload.objects.select_related("box").filter(ftp_username=username).first()
        if upload is None:
            return None, "no diagnostics upload has this credential (deleted?)"
        if upload.expires <= timezone.now():
            return None, f"the diagnostics upload of {upload.box.serial} expired at {upload.expires.isoformat()}"
        home = Path(default_storage.path(upload.directory))
        home.mkdir(parents=True, exist_ok=True)
        return Grant(username=username, home=os.path.realpath(home), perms=WRITE_PERMS, max_bytes=upload.max_bytes,
                     upload_id=upload.pk, box_id=upload.box_id,
                     greeting=f"Diagnostics of {upload.box.serial}: STOR up to {upload.max_bytes} bytes"), ""
    return None, "not a firmware image's or a diagnostics upload's credential"


@_released
def transfer_record(**fields) -> None:
    FileTransfer.objects.create(**fields)


class DatabaseAuthorizer:
    """pyftpdlib's authorizer interface, one per connection (``EvchongFTPHandler`` makes it), so that
    ``grant``, what this connection's login allows, is nobody else's."""

    def __init__(self):
        self.grant: Grant | None = None

    def validate_authentication(self, username: str, password: str, handler) -> None:
        self.grant = None
        if username.lower() in ANONYMOUS:
            self._refuse(handler, username, "anonymous login refused")
        # The password is checked first: it needs no database, so a stranger's guesses cost none.
        if not ftp_password_valid(username, password):
            self._refuse(handler, username, "wrong password or unknown user")
        try:
            grant, why = grant_for(username)
        except DatabaseError as exc:
            grant, why = None, f"database unavailable ({exc.__class__.__name__})"
        if grant is None:
            self._refuse(handler, username, why)
        self.grant = grant

    @staticmethod
    def _refuse(handler, username: str, why: str):
        log.warning("FTP login of %r from %s refused: %s", username[:64], handler.remote_ip, why)
        # Empty: pyftpdlib answers its own "Anonymous access not allowed." or "Authentication failed.",
        # and the reason stays in the log.
        raise AuthenticationFailed("")

    def get_home_dir(self, username: str) -> str:
        return self.grant.home

    def has_user(self, username: str) -> bool:
        return self.grant is not None and self.grant.username == username

    def has_perm(self, username: str, perm: str, path: str | None = None) -> bool:
        grant = self.grant
        if not self.has_user(username) or perm not in grant.perms:
            return False
        if path is None:
            return True
        path = os.path.realpath(path)
        if perm == "r":
            return path == grant.readable
        if perm == "w":
            return os.path.dirname(path) == grant.home  # into its own directory, no deeper
        return path == grant.home or path.startswith(grant.home + os.sep)

    def get_perms(self, username: str) -> str:
        return self.grant.perms if self.has_user(username) else ""

    def get_msg_login(self, username: str) -> str:
        return self.grant.greeting

    def get_msg_quit(self, username: str) -> str:
        return "Goodbye."

    def impersonate_user(self, username: str, password: str) -> None:
        """Files are the server process's own: no system user to become."""

    def terminate_impersonation(self, username: str) -> None:
        """See ``impersonate_user``."""


class UploadTooLarge(OSError):
    def __init__(self, limit: int):
        super().__init__(errno.EDQUOT, f"over the diagnostics upload's limit of {limit} bytes")


class CappedFile:
    """A file being uploaded that refuses to grow past ``budget`` bytes (what is left of the
    upload's limit once its other files are counted). Two uploads at the same moment under one
    credential could each use the rest; a box uploads one file."""

    def __init__(self, file, budget: int, limit: int):
        self._file, self.budget, self.limit = file, budget, limit

    def write(self, data):
        if self._file.tell() + len(data) > self.budget:
            raise UploadTooLarge(self.limit)
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)


class GrantFS(AbstractedFS):
    """The credential's directory as "/", and a diagnostics upload's limit on what is written."""

    def open(self, filename, mode):
        file = super().open(filename, mode)
        return file if mode == "rb" else self._capped(file, filename)

    def mkstemp(self, suffix="", prefix="", dir=None, mode="wb"):  # STOU
        file = super().mkstemp(suffix=suffix, prefix=prefix, dir=dir, mode=mode)
        return self._capped(file, file.name)

    def _capped(self, file, filename: str):
        grant = self.cmd_channel.authorizer.grant
        if grant is None or grant.max_bytes is None:
            return file
        target = os.path.realpath(filename)
        others = sum(entry.stat().st_size for entry in os.scandir(grant.home)
                     if entry.is_file() and os.path.realpath(entry.path) != target)
        return CappedFile(file, grant.max_bytes - others, grant.max_bytes)


class EvchongDTPHandler(TLS_DTPHandler):
    def handle_error(self):
        failed = sys.exc_info()[1]
        too_large = next((e for e in (failed, getattr(failed, "__cause__", None)) if isinstance(e, UploadTooLarge)),
                         None)
        if too_large is None:
            return super().handle_error()
        # RFC 959 552 "exceeded storage allocation": final. pyftpdlib would answer 426, which tells
        # the box to try again, and it would only fail again.
        self.cmd_channel.transfer_problem = too_large.strerror
        self.cmd_channel.log(f"upload aborted: {too_large.strerror}", logfun=pyftpdlib_logger.warning)
        self._resp = (f"552 Upload aborted: {too_large.strerror}.", pyftpdlib_logger.warning)
        self.close()


class EvchongFTPHandler(TLS_FTPHandler):
    # One line (75 characters at most): the FTP clients of some boxes read no multi-line greeting.
    banner = "EVCHONG firmware and diagnostics files (FTP; AUTH TLS for FTPS)."
    abstracted_fs = GrantFS
    dtp_handler = EvchongDTPHandler
    # tls_control_required and tls_data_required stay False: FTP and FTPS on one port (rule 1 h).

    def __init__(self, conn, server, ioloop=None):
        self.authorizer = DatabaseAuthorizer()
        self.transfer_problem = ""
        super().__init__(conn, server, ioloop)

    def add_channel(self, map=None, events=None):
        # A client gone before its session's thread began (a port probe, a health check) has been
        # closed already: its socket is no more, and registering it failed with EINVAL, a
        # traceback in the log for every probe.
        if self._closed:
            return
        super().add_channel(map, events)

    def ftp_STOU(self, line):
        # pyftpdlib makes the file first and asks the authorizer after: ask first, so that not even an
        # empty file appears where this login may not write.
        if not self.authorizer.has_perm(self.username, "w"):
            self.respond("550 Not enough privileges.")
            return None
        return super().ftp_STOU(line)

    def log_cmd(self, cmd, arg, respcode, respstr):
        # Every refusal with its reason (a box's updater tells little when it fails); pyftpdlib
        # logs a few commands only. Never PASS: its argument is the password.
        if str(respcode)[0] in "45" and cmd != "PASS":
            self.log(f"{cmd} {arg} refused: {respcode} {respstr}", logfun=pyftpdlib_logger.warning)
        else:
            super().log_cmd(cmd, arg, respcode, respstr)

    def log_transfer(self, cmd, filename, receive, completed, elapsed, bytes):
        super().log_transfer(cmd, filename, receive, completed, elapsed, bytes)
        problem, self.transfer_problem = self.transfer_problem, ""
        grant = self.authorizer.grant
        if grant is None:
            return
        finished = timezone.now()
        try:
            transfer_record(
                username=grant.username, image_id=grant.image_id, diagnostics_upload_id=grant.upload_id,
                box_id=grant.box_id, direction=TransferDirection.UPLOAD if receive else TransferDirection.DOWNLOAD,
                file_name=os.path.basename(filename)[:255], bytes=bytes, completed=bool(completed),
                tls=self.data_channel is not None and is_ssl_sock(self.data_channel.socket),
                remote_address=str(self.remote_ip), started=finished - timedelta(seconds=elapsed),
                finished=finished, problem=problem[:255])
        except DatabaseError:
            # The file went (or did not) all the same; the log line above says so.
            log.exception("could not record the transfer of %s by %s", filename, grant.username)

    def on_incomplete_file_received(self, file):
        # Half a diagnostics file is of no use, and it would count against the upload's limit.
        try:
            os.remove(file)
        except OSError:
            pass


def passive_port_range(value: str) -> list[int] | None:
    """FTP_PASSIVE_PORTS "FIRST-LAST" as a list; empty: ports the kernel picks."""
    value = value.strip()
    if not value:
        return None
    first, _, last = value.partition("-")
    try:
        first_port, last_port = int(first), int(last or first)
    except ValueError:
        raise ImproperlyConfigured(f"FTP_PASSIVE_PORTS: {value!r} is not FIRST-LAST, such as 30000-30099") from None
    if not 1024 <= first_port <= last_port <= 65535:
        raise ImproperlyConfigured(f"FTP_PASSIVE_PORTS: {value!r} is not a range within 1024-65535")
    return list(range(first_port, last_port + 1))


def masquerade_address(value: str) -> str | None:
    """FTP_MASQUERADE_ADDRESS: the IPv4 address that PASV answers name (RFC 959 has room for no other)."""
    if not value:
        return None
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ImproperlyConfigured(f"FTP_MASQUERADE_ADDRESS: {value!r} is not an IPv4 address") from None


def ftp_server() -> ThreadedFTPServer:
    """The server on FTP_HOST:FTP_PORT, configured from the settings, not yet serving."""
    cert, key = tls_files()
    handler = type("ConfiguredFTPHandler", (EvchongFTPHandler,), {
        "certfile": str(cert), "keyfile": str(key),
        "passive_ports": passive_port_range(settings.FTP_PASSIVE_PORTS),
        "masquerade_address": masquerade_address(settings.FTP_MASQUERADE_ADDRESS),
    })
    Path(settings.MEDIA_ROOT).mkdir(parents=True, exist_ok=True)
    return ThreadedFTPServer((settings.FTP_HOST, settings.FTP_PORT), handler)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve(record: Path | None = None) -> None:
    """Serve until SIGINT or SIGTERM; with ``record``, where it listens and reads is written there
    while it runs (firmware.ftprecord)."""
    server = ftp_server()
    # SIGTERM (make run's Ctrl-C, systemd's stop) ends serve_forever as Ctrl-C does: sessions closed.
    signal.signal(signal.SIGTERM, _interrupt)
    if record:
        ftp_record_write(record, host=settings.FTP_HOST, port=settings.FTP_PORT,
                         public_host=settings.FTP_PUBLIC_HOST, media_root=str(settings.MEDIA_ROOT))
    log.info("serving firmware and diagnostics files on ftp://%s:%s/ (AUTH TLS available), files under %s",
             settings.FTP_HOST, settings.FTP_PORT, settings.MEDIA_ROOT)
    try:
        server.serve_forever()
    finally:
        if record:
            ftp_record_remove(record)
