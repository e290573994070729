"""The MQTT credentials the system hands out and uses, under the secret of settings
(KOTODIAN_MQTT_SECRETS, the first one current): the rules themselves are kotodian.mqttaccess."""

from __future__ import annotations

from django.conf import settings

from kotodian.mqttaccess import BOX, REGISTRATION, SYSTEM, Credentials, credentials, login_valid, topic_allowed


def box_credentials(device_code: str) -> Credentials:
    """What DeviceRegistrationConf gives a box: its deviceCode as username and the password derived
    from it, the same at every registration until the secret is rotated."""
    return credentials(settings.KOTODIAN_MQTT_SECRETS[0], BOX, device_code)


def system_credentials() -> Credentials:
    """How the bridge and the command workers log in when MQTT_URL names no user."""
    return credentials(settings.KOTODIAN_MQTT_SECRETS[0], SYSTEM)


def registration_credentials() -> Credentials:
    """The default account of boxes not registered yet (given to the factory with the registration code)."""
    return credentials(settings.KOTODIAN_MQTT_SECRETS[0], REGISTRATION)


def login_allowed(username: str | None, password: str | None) -> bool:
    return login_valid(settings.KOTODIAN_MQTT_SECRETS, username, password)


def access_allowed(username: str | None, client_id: str | None, action: str, topic: str) -> bool:
    return topic_allowed(username, client_id, action, topic, settings.KOTODIAN_TOPIC_PREFIX)
