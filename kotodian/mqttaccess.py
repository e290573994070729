"""Who may connect to the MQTT broker and which Kotodian topics each may use (docs/adr/0021).

Nothing is stored: every password is an HMAC-SHA256, keyed with the MQTT secret
(KOTODIAN_MQTT_SECRET), of the account's kind and username. So whoever holds the secret can check
a login without a database: the private broker's plugins (kotodian.amqttplugins, in the broker's
own virtualenv, which has no Django) and our HTTP endpoint for external brokers (kotodian.mqttauth)
run these same rules. Standard library only, for that reason.

Three kinds of account, told apart by the username:

- the system (the bridge and the command workers): every topic;
- registration, the default account a box that has no credentials yet logs in with (kotodian-apdu
  1.5): only ``/U/R/{clientId}`` and ``/D/R/{clientId}`` of its own MQTT client id, since
  DeviceRegistrationConf carries the credentials of the box that registers. A box that logs in with
  no username at all is taken as this account: the protocol leaves the factory's default account
  unnamed, DESIGN 3 names none, and this account's password is given to every factory anyway, so
  an open door to registration alone costs nothing (the reply goes to the client id's own topic);
- a box, whose username is its deviceCode: publishes only ``/U/C/`` and ``/U/M/`` of its own code,
  subscribes only ``/D/C/`` (and beneath) and ``/D/M/`` of its own code (DESIGN 3), and the
  registration topics of a client id that ends with ``-{deviceCode}`` (``{partNumber}-{serial}``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

SYSTEM, REGISTRATION, BOX = "system", "registration", "box"
SYSTEM_USERNAME = "evchong-system"
REGISTRATION_USERNAME = "evchong-registration"
PUBLISH, SUBSCRIBE = "publish", "subscribe"
# Characters that would let a username (a deviceCode) reach beyond its own topic level.
_NOT_IN_CODE = set("/+#\x00")


def password(secret: str, kind: str, username: str) -> str:
    """The password of an account: 128 bits of an HMAC, in hex (nothing to guess)."""
    return hmac.new(secret.encode(), f"{kind}\0{username}".encode(), hashlib.sha256).hexdigest()[:32]


def kind_of(username: str) -> str | None:
    """The kind of account a username names; None for one that can name none (empty, or with a
    character that is a topic separator or wildcard)."""
    if username == SYSTEM_USERNAME:
        return SYSTEM
    if username == REGISTRATION_USERNAME:
        return REGISTRATION
    if not username or _NOT_IN_CODE & set(username):
        return None
    return BOX


def login_valid(secrets: list[str], username: str | None, given: str | bytes | None) -> bool:
    """The password is the account's under the current secret or one being rotated out; or no
    username and no password at all: the registration account's door (see above)."""
    if not username and not given:
        return True
    kind = kind_of(username or "")
    if kind is None or not given:
        return False
    if isinstance(given, bytes):
        given = given.decode("utf-8", "replace")
    return any(hmac.compare_digest(given, password(secret, kind, username)) for secret in secrets if secret)


def topic_allowed(username: str | None, client_id: str | None, action: str, topic: str, prefix: str = "") -> bool:
    """May this (already authenticated) account publish on, or subscribe to, this topic (filter)?"""
    kind = kind_of(username) if username else REGISTRATION
    if kind == SYSTEM:
        return True
    if kind is None or not topic.startswith(prefix):
        return False
    rest = topic[len(prefix):]
    own_registration = client_id and not _NOT_IN_CODE & set(client_id) and (
        kind == REGISTRATION or client_id.endswith(f"-{username}"))
    if action == PUBLISH:
        allowed = {f"/U/C/{username}", f"/U/M/{username}"} if kind == BOX else set()
        if own_registration:
            allowed.add(f"/U/R/{client_id}")
        return rest in allowed
    allowed = {f"/D/C/{username}", f"/D/M/{username}"} if kind == BOX else set()
    if own_registration:
        allowed.add(f"/D/R/{client_id}")
    # Beneath its own command topic a box may use wildcards (kotodian-apdu 1.4: /D/C/<deviceCode>/#).
    return rest in allowed or (kind == BOX and rest.startswith(f"/D/C/{username}/"))


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def credentials(secret: str, kind: str, username: str = "") -> Credentials:
    """The credentials of the system, of registration, or (given its deviceCode) of a box."""
    username = {SYSTEM: SYSTEM_USERNAME, REGISTRATION: REGISTRATION_USERNAME}.get(kind, username)
    return Credentials(username, password(secret, kind, username))
