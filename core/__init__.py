"""Plumbing under every app: nothing here knows a charge box.

- ``groupcommit``: writer threads that commit many messages' work in one transaction;
- ``bulk``: many rows in one INSERT (``rows_insert``), the SET list of an UPDATE (``assignments``);
- ``db``: database work of async views that go on to wait a long time;
- ``channel_layer``: the Redis pub/sub channel layer that finds a box's process;
- ``errors``: the one project exception type (``DomainError``) each edge maps to its error form;
- ``localservices``: private PostgreSQL, Redis and MQTT broker for ``make run`` and ``make test``;
- ``stack``: ``make run``'s process supervisor;
- ``gctuning``: the garbage collector's thresholds in server processes.

Private upstream APIs the project relies on, with the version each was checked against (read them
again before a pin moves):

- channels_redis 4.3.0 (core.channel_layer): ``RedisPubSubChannelLayer._get_layer`` and, on its
  layer and shards, ``_shards``, ``_lock``, ``_subscribed_to``, ``_ensure_redis``,
  ``_ensure_receiver``, ``_pubsub``;
- daphne 4.2.3 and autobahn 26.10.2 (ocpp16.wsserver, docs/adr/0008): ``daphne.ws_protocol.WebSocketProtocol``
  subclassed (``onConnect``, ``serverAccept``, ``serverReject``, ``handle_reply``, ...),
  ``daphne.http_protocol.WebRequest`` replaced, ``daphne.server.Server.create_application`` wrapped,
  ``autobahn.websocket.protocol.pformat`` replaced;
- asyncio (evchong_api.fastpath): ``loop._default_executor``, read to leave daphne's own in place;
- Django REST framework 3.18.3 (evchong_api, docs/adr/0010): no private name; the ASGI entrance
  calls the forward views' own ``validated``/``handle``, so DRF's request cycle is bypassed there.
"""
