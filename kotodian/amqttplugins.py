"""The private broker's login and topic checks: amqtt plugins that apply kotodian.mqttaccess.

Loaded by amqtt in its own virtualenv (.venv-broker, core/localservices.py), where there is neither
Django nor the system's packages: the secret comes from the environment (KOTODIAN_MQTT_SECRET,
comma-separated while one is rotated out, newest first), not from settings or the database."""

from __future__ import annotations

import os
from dataclasses import dataclass

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

from kotodian.mqttaccess import PUBLISH, SUBSCRIBE, login_valid, topic_allowed


def _secrets() -> list[str]:
    return [secret for secret in os.environ.get("KOTODIAN_MQTT_SECRET", "").split(",") if secret]


class KotodianAuthPlugin(BaseAuthPlugin):
    """Only the system, registration and boxes with the password derived from their username."""

    async def authenticate(self, *, session) -> bool:
        allowed = login_valid(_secrets(), session.username, session.password)
        if not allowed:
            self.context.logger.info("login of %r (client %r) refused", session.username, session.client_id)
        return allowed

    @dataclass
    class Config:
        pass


class KotodianTopicPlugin(BaseTopicPlugin):
    """Each account on its own topics. A publish refused is dropped (MQTT 3.1.1 has no way to say
    so); a subscription refused is answered 0x80."""

    async def topic_filtering(self, *, session=None, topic=None, action=None) -> bool:
        if action == Action.RECEIVE:
            return True  # the subscription was checked when it was made
        if session is None or topic is None:
            return False
        kind = PUBLISH if action == Action.PUBLISH else SUBSCRIBE
        return topic_allowed(session.username, session.client_id, kind, topic, self.config.topic_prefix)

    @dataclass
    class Config:
        topic_prefix: str = ""
