from django.urls import re_path

from ocpp16.consumer import OcppConsumer

# ws://HOST:PORT/ocpp/{chargeBoxId}; the consumer takes the id from the last path segment.
websocket_urlpatterns = [re_path(r"^ocpp/", OcppConsumer.as_asgi())]
