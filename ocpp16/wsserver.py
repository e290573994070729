"""What daphne's WebSocket server lacks for OCPP, added to it in this process (evchong.asgi calls
``install`` before daphne starts serving):

- The ASGI "WebSocket Denial Response" extension (``websocket.http.response.start/body``).
  OCPP-J 1.6 §3.2 asks for HTTP 404 for an unknown charge box and security profile 1 for 401 on bad
  credentials, where plain ASGI can only refuse with 403 (daphne does not implement the extension:
  django/daphne#389). The server advertises it in ``scope["extensions"]`` as the spec says, so the
  consumer works unchanged on servers that have it built in.
- A message larger than OCPP_MAX_FRAME_BYTES closes an OCPP connection with 1009 (message too
  big), enforced by autobahn while the frame arrives. autobahn drops the TCP connection on such
  failures by default; a closing handshake tells the box why.
"""

from __future__ import annotations

from http import HTTPStatus

from autobahn.websocket.types import ConnectionDeny
from daphne import server as daphne_server
from daphne import ws_protocol
from django.conf import settings

EXTENSION = "websocket.http.response"
OCPP_PATH = "/ocpp/"


class WebSocketProtocol(ws_protocol.WebSocketProtocol):
    failByDrop = False
    denial: tuple[int, list, bytearray] | None = None

    def onConnect(self, request):
        if request.path.startswith(OCPP_PATH):
            self.maxMessagePayloadSize = self.maxFramePayloadSize = settings.OCPP_MAX_FRAME_BYTES
        return super().onConnect(request)

    def handle_reply(self, message):
        kind = message["type"]
        if kind == f"{EXTENSION}.start" and self.state == self.STATE_CONNECTING:
            self.denial = (message["status"], list(message.get("headers", [])), bytearray())
        elif kind == f"{EXTENSION}.body" and self.denial is not None:
            self.denial[2].extend(message.get("body", b""))
            if not message.get("more_body", False):
                self.deny()
        else:
            super().handle_reply(message)

    def deny(self):
        status = self.denial[0]
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Denied"
        # As daphne's own refusal (serverReject) does, with our status instead of 403.
        self.handshake_deferred.errback(ConnectionDeny(code=status, reason=reason))
        del self.handshake_deferred
        self.server.protocol_disconnected(self)

    def sendHttpErrorResponse(self, code, reason, responseHeaders=None):
        if self.denial is None:
            return super().sendHttpErrorResponse(code, reason, responseHeaders)
        _, headers, body = self.denial
        lines = [f"HTTP/1.1 {code} {reason}".encode()]
        lines += [bytes(name) + b": " + bytes(value) for name, value in headers]
        lines += [b"Content-Length: %d" % len(body), b"Connection: close"]
        self.sendData(b"\r\n".join(lines) + b"\r\n\r\n" + bytes(body))


_create_application = daphne_server.Server.create_application


def _create_application_with_extension(self, protocol, scope):
    if isinstance(protocol, WebSocketProtocol):
        scope["extensions"] = {**scope.get("extensions", {}), EXTENSION: {}}
    return _create_application(self, protocol, scope)


def install() -> None:
    """Idempotent; affects daphne servers started in this process after the call."""
    ws_protocol.WebSocketFactory.protocol = WebSocketProtocol
    daphne_server.Server.create_application = _create_application_with_extension
