"""Whether a Kotodian box can take commands. A box holds no connection of ours (it talks to the broker),
and a box's MQTT session ending is not something the broker tells its other clients unless the box
set a last will, which the protocol does not ask for. So a box is reachable (``connected_node`` set,
chargers.services.boxes_connected) from its registration or boot, again from any heartbeat after a
lapse, and until it has been silent for KOTODIAN_SILENT_HEARTBEATS of its heartbeat intervals:
``boxes_silent_release``, which the bridge runs every minute."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from chargers.choices import Protocol
from chargers.models import ChargeBox
from chargers.presence import heard_within
from kotodian.handlers import NODE

SWEEP_SECONDS = 60


def boxes_silent_release() -> int:
    """Commands are no longer sent to Kotodian boxes silent for too long; how many were released.
    Silent as chargers.presence (the online rule) counts it, so a box shows offline exactly when it
    is released."""
    return (ChargeBox.objects.filter(protocol=Protocol.KOTODIAN, connected_node=NODE)
            .exclude(heard_within(settings.KOTODIAN_SILENT_HEARTBEATS, timezone.now()))
            .update(connected_node=""))
