"""What the chargers app tells the apps above it (webhooks), which it must not import. Each is sent
inside the transaction that records the fact: a receiver that acts outside the database defers to
``transaction.on_commit``, so a rolled-back fact is never told."""

from django.dispatch import Signal

# ``box``: a box that held no connection now holds one (OCPP WebSocket, Kotodian MQTT session).
box_online = Signal()
# ``box``: the connection the box held closed and no newer one replaced it.
box_offline = Signal()
# ``alarm``: an Alarm row just raised (EVCHONG 2.7: its notify_user / notify_operations flags say whom to tell).
alarm_raised = Signal()
# ``box``, ``connector_id``, ``alarm_ids``: the connector reported healthy and these open alarms cleared.
alarm_cleared = Signal()
# ``box``, ``id_tag``: a box asked about an id tag the system does not know.
idtag_unknown = Signal()
