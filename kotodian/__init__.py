"""The Kotodian charger protocol (kotodian/protocol v1.10.47): a codec, and the edge that speaks it over MQTT.

A Kotodian box or gateway exchanges protobuf APDUs (package ``Goiot.Protocol.Charger``), one per MQTT
message; each APDU carries a messageId and the serialized inner message (kotodian-apdu 1.1).

- ``kotodian.proto``: our own .proto files and the classes generated from them.
- ``kotodian.messages``: the MessageID table as data (request -> reply id, the message class of each id).
- ``kotodian.codec``: ``decode`` bytes to an ``Apdu``; ``encode_request``, ``encode_reply`` and
  ``message_error`` to bytes.
- ``kotodian.errors``: what ``decode`` raises, and the MessageError code an edge answers each with.
- ``kotodian.names``: code -> name tables for display (stop reasons, warnings, measurands, connector states).

The edge (DESIGN 3, "Kotodian over MQTT"; docs/adr/0017), a Django app built on the codec:

- ``kotodian.handlers``: the handler table, Kotodian messages onto the domain services;
- ``kotodian.edge``: the edge in the inbound pipeline (replies and MessageErrors rendered);
- ``kotodian.bridge``: the MQTT client that subscribes the uplink topics, submits each message to the
  edge's writers and publishes the reply (``python manage.py kotodianbridge``);
- ``kotodian.delivery``: commands to Kotodian boxes (commands.edges), published on their downlink topic;
- ``kotodian.calls``: each call the system makes to a Kotodian box: its payload checked, its request
  made, its Conf read back (docs/adr/0020);
- ``kotodian.tariffs``: a tariff as SetTariffReq, and its pushes at boot and on every change;
- ``kotodian.topics``: the topics, and the Redis records of commands waiting for their Conf.

Nothing here is imported eagerly, so ``python -m kotodian.proto.generate`` works even while the
generated modules are missing or stale. The simulator builds on the codec too."""
