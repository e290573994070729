"""The rules of kotodian.mqttaccess as the two files a plain Mosquitto 2 reads by itself, with no
plugin: a ``password_file`` (the system, registration, and every box we know) and an ``acl_file``.
Written by ``manage.py mosquittoauth``; the bench calls ``write_into``. Standard library only, so
that either can render them with the secret alone.

What Mosquitto's files can say differs from the rules in two places:
- one password per user: the one under the current secret. While a secret is rotated out, a box
  still holding a password of the old one is refused until it registers again (with no login or the
  new registration password); our HTTP endpoints for external brokers accept both meanwhile.
- ``%c`` in an ACL pattern means any client id, so a box may also use the registration topics of
  its own client id whatever that id is (mqttaccess asks that it end with ``-{deviceCode}``):
  no more than the registration account, whose password every factory has, may do anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kotodian.mqttaccess import BOX, REGISTRATION, REGISTRATION_USERNAME, SYSTEM, SYSTEM_USERNAME, credentials, kind_of

# Mosquitto runs as its own user once it has dropped root, and reads both files as that user (and
# again at each SIGHUP): readable by the group the files are made with, by no one else.
MODE = 0o640
# A topic prefix goes into the ACL as it is: a wildcard or a pattern's % would widen every rule.
_NOT_IN_PREFIX = set("+#%\n\r\0")


@dataclass(frozen=True)
class Written:
    password_file: Path
    acl_file: Path
    accounts: int
    skipped: list[str]  # serials that cannot be a Mosquitto username (see _usable)
    changed: bool  # False: both files already said this, nothing written


def mosquitto_conf(password_path: Path | str, acl_path: Path | str) -> str:
    """What mosquitto.conf needs besides its listener to use these files."""
    return ("per_listener_settings false\n"
            # No login at all is the registration account (docs/adr/0021): the ACL lets a client
            # without a username use its own registration topics and nothing else.
            f"allow_anonymous true\npassword_file {password_path}\nacl_file {acl_path}\n")


def password_hash(secret: str, username: str, password: str) -> str:
    """Mosquitto's ``$6$`` form: base64 salt and base64 SHA-512 of password + salt (Mosquitto 2.0
    reads it as well as mosquitto_passwd's ``$7$`` PBKDF2). Key stretching buys nothing against a
    128-bit random password and costs: PBKDF2's 101 rounds make 50,000 boxes take 3 s instead of
    0.3 s here, and Mosquitto pays them again at every login. The salt is derived, not random, so
    that the file is the same from one run to the next until a box or the secret changes."""
    salt = hmac.new(secret.encode(), f"mosquitto-salt\0{username}".encode(), hashlib.sha256).digest()[:12]
    digest = hashlib.sha512(password.encode() + salt).digest()
    return f"$6${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _usable(code: str) -> bool:
    """A box's code a password-file line can hold as its username: a box's username by mqttaccess's
    rule, and nothing Mosquitto's parser takes apart (':' ends the username, blanks are trimmed)."""
    return kind_of(code) == BOX and ":" not in code and code == code.strip() and code.isprintable()


def password_file(secret: str, box_codes: Iterable[str]) -> tuple[str, int, list[str]]:
    """The file's text, how many accounts it holds, and the codes left out."""
    lines, skipped = [], []
    accounts = [credentials(secret, SYSTEM), credentials(secret, REGISTRATION)]
    for code in sorted(set(box_codes)):
        if _usable(code):
            accounts.append(credentials(secret, BOX, code))
        else:
            skipped.append(code)
    for account in accounts:
        lines.append(f"{account.username}:{password_hash(secret, account.username, account.password)}\n")
    return "".join(lines), len(accounts), skipped


def acl_file(prefix: str = "") -> str:
    """The ACL: patterns hold for every client (``%u`` its username, and those patterns skip a client
    without one; ``%c`` its client id), ``user`` sections for one account. Mosquitto 2.0 grants every
    subscription and checks each message against ``read`` as it is delivered."""
    if _NOT_IN_PREFIX & set(prefix):
        raise ValueError(f"KOTODIAN_TOPIC_PREFIX {prefix!r} holds a character an ACL would read as a rule")
    p = prefix
    return f"""\
# Written by `manage.py mosquittoauth` (kotodian/mosquittofiles.py) from kotodian/mqttaccess.py's rules.
# Registration (evchong-registration, or no username at all): the topics of its own client id.
pattern write {p}/U/R/%c
pattern read {p}/D/R/%c
# A box (username = its deviceCode): its own commands and telemetry; /# also covers /D/C/<code> itself.
pattern write {p}/U/C/%u
pattern write {p}/U/M/%u
pattern read {p}/D/C/%u/#
pattern read {p}/D/M/%u

user {SYSTEM_USERNAME}
topic readwrite #

# The box patterns above would give it the topics of a box named {REGISTRATION_USERNAME}: none exists.
user {REGISTRATION_USERNAME}
topic deny {p}/+/C/#
topic deny {p}/+/M/#
"""


def write(password_path: Path | str, acl_path: Path | str, *, secret: str, box_codes: Iterable[str],
          prefix: str = "") -> Written:
    """Both files, each replaced whole (a reload never reads half a file), and only if it changed."""
    passwords, accounts, skipped = password_file(secret, box_codes)
    password_path, acl_path = Path(password_path), Path(acl_path)
    changed = _replace(password_path, passwords)
    changed = _replace(acl_path, acl_file(prefix)) or changed
    return Written(password_path, acl_path, accounts, skipped, changed)


def write_into(directory: Path | str, *, secret: str, box_codes: Iterable[str], prefix: str = "") -> Written:
    """Both files in ``directory`` (made if missing), as ``passwd`` and ``acl``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return write(directory / "passwd", directory / "acl", secret=secret, box_codes=box_codes, prefix=prefix)


def _replace(path: Path, text: str) -> bool:
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as file:
            os.fchmod(file.fileno(), MODE)
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return True
