"""The Kotodian charger protocol (kotodian/protocol v1.10.47), as a codec: no MQTT, no Django.

A Kotodian box or gateway exchanges protobuf APDUs (package ``Goiot.Protocol.Charger``), one per MQTT
message; each APDU carries a messageId and the serialized inner message (kotodian-apdu 1.1).

- ``kotodian.proto``: our own .proto files and the classes generated from them.
- ``kotodian.messages``: the MessageID table as data (request -> reply id, the message class of each id).
- ``kotodian.codec``: ``decode`` bytes to an ``Apdu``; ``encode_request``, ``encode_reply`` and
  ``message_error`` to bytes.
- ``kotodian.errors``: what ``decode`` raises, and the MessageError code an edge answers each with.
- ``kotodian.names``: code -> name tables for display (stop reasons, warnings, measurands, connector states).

Nothing here is imported eagerly, so ``python -m kotodian.proto.generate`` works even while the
generated modules are missing or stale. The MQTT edge and the simulator both build on this package."""
