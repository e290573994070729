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
- Admission control (docs/performance.md): at most OCPP_CONNECTING_MAX boxes connecting to this
  process at once (upgrade request to first answer, see ``Arrivals``). Beyond that a box waits
  for a place, in order of arrival, for up to OCPP_ADMISSION_WAIT seconds (at most
  OCPP_WAITING_MAX boxes wait); one that finds no place in that time, or no room to wait, is
  answered HTTP 503 with Retry-After before the upgrade, which costs no consumer, no database and
  no Redis work, and comes back after its own jittered back-off. Without a bound a reconnect
  storm let thousands of handshakes in at once, every pool behind them overflowed, consumers
  died after accepting, and boxes timed out. Without the wait, a storm of 500 boxes took 20 s on
  a server idle most of that time: the boxes turned away were all away for their Retry-After.
  Waiting and refusing happen as soon as the request's line and headers are read
  (``WebRequest``), before any WebSocket machinery exists: a waiting box holds only its socket
  and its parsed request, and refusing through autobahn's handshake cost as much as admitting.
- autobahn formats every new connection's forty settings with ``pprint`` for a debug line, logged
  or not: that was a fifth of the server's CPU in a reconnect storm. It is formatted only when the
  line is written (``_Pretty``).
- The process's open-files limit is raised to what the system allows: every box is a socket.
"""

from __future__ import annotations

import logging
import pprint
import resource
from http import HTTPStatus

from autobahn.websocket import protocol as autobahn_protocol
from autobahn.websocket.types import ConnectionDeny
from daphne import http_protocol, ws_protocol
from daphne import server as daphne_server
from django.conf import settings

log = logging.getLogger(__name__)

EXTENSION = "websocket.http.response"
OCPP_PATH = "/ocpp/"
BUSY = 503


class Arrivals:
    """OCPP boxes connecting to this process: from the upgrade request until the server's first
    message on the open connection, which for a box is the answer to its BootNotification (or to
    whatever it sends first). That is the set-up a storm is made of: bounding the handshakes alone
    let boxes in faster than their boots were answered, and the boots then timed out in a queue.
    One reactor thread runs them all, so plain counts.

    Boxes beyond the bound wait in ``waiting`` (their requests, in order of arrival, each with the
    timer that turns it away); a place given back goes to the longest waiting box, and a box that
    arrives while others wait queues behind them."""

    def __init__(self) -> None:
        self.connecting = 0
        self.turned_away = 0  # answered 503 since the start, for logs and tests
        self.waiting: dict[WebRequest, object] = {}  # request -> its IDelayedCall

    def full(self) -> bool:
        return self.connecting >= settings.OCPP_CONNECTING_MAX

    def arrive(self, request: WebRequest) -> bool:
        """Whether a box whose upgrade request has just been read may go on now. If not, it waits
        for ``admit_waiting`` to hand it a place, or is turned away (``WebRequest.refuse_busy``)."""
        if not self.full() and not self.waiting:
            return True
        if settings.OCPP_ADMISSION_WAIT <= 0 or len(self.waiting) >= settings.OCPP_WAITING_MAX:
            self.refuse(request)
            return False
        from twisted.internet import reactor  # daphne's (asyncio) reactor, installed by now

        self.waiting[request] = reactor.callLater(settings.OCPP_ADMISSION_WAIT, self.expire, request)
        return False

    def refuse(self, request: WebRequest) -> None:
        self.turned_away += 1
        request.refuse_busy()

    def expire(self, request: WebRequest) -> None:
        if self.waiting.pop(request, None) is not None:
            self.refuse(request)

    def forget(self, request: WebRequest) -> None:
        """A waiting box went away."""
        timer = self.waiting.pop(request, None)
        if timer is not None and timer.active():
            timer.cancel()

    def enter(self) -> bool:
        """A box's handshake has begun: it takes a place, or is turned away when none is left
        (a box that arrived by a way that did not wait, or in the same instant as others)."""
        if self.full():
            self.turned_away += 1
            return False
        self.connecting += 1
        return True

    def leave(self) -> None:
        self.connecting -= 1
        if self.waiting:
            from twisted.internet import reactor

            # Not from inside the set-up that is ending (a send, a close): from the reactor's own loop.
            reactor.callLater(0, self.admit_waiting)

    def admit_waiting(self) -> None:
        # Each admitted box takes its place in ``enter``, during the handshake that ``go_on`` runs;
        # one that went away meanwhile takes none, and the next has its turn.
        for _ in range(len(self.waiting)):
            if self.full():
                return
            request = next(iter(self.waiting))
            self.forget(request)
            request.go_on()


arrivals = Arrivals()
# Seconds an accepted box keeps its place while the server has not yet answered anything: a box
# that sends nothing must not hold a place for ever.
FIRST_ANSWER_WAIT = 10.0


class WebSocketProtocol(ws_protocol.WebSocketProtocol):
    failByDrop = False
    denial: tuple[int, list, bytearray] | None = None
    admitted = False  # holds a place in `arrivals` until the set-up is over
    admitted_timer = None
    turned_away = False  # answered 503 before daphne knew of the connection

    def onConnect(self, request):
        if request.path.startswith(OCPP_PATH):
            self.maxMessagePayloadSize = self.maxFramePayloadSize = settings.OCPP_MAX_FRAME_BYTES
            if not arrivals.enter():
                return self.turn_away()
            self.admitted = True
        return super().onConnect(request)

    def turn_away(self):
        """HTTP 503 with Retry-After, before any application instance exists: for a box that found
        the process full only once its handshake was under way (``WebRequest`` turns away the rest)."""
        self.turned_away = True
        self.denial = (BUSY, busy_headers(), bytearray(BUSY_BODY))
        raise ConnectionDeny(code=BUSY, reason=HTTPStatus(BUSY).phrase)

    def setup_over(self) -> None:
        if self.admitted:
            self.admitted = False
            arrivals.leave()
        if self.admitted_timer is not None and self.admitted_timer.active():
            self.admitted_timer.cancel()
        self.admitted_timer = None

    # Every way a set-up ends gives its place back: the first message sent on the connection,
    # refused by the application (403 or our denial), failed in the application, the box went away
    # meanwhile, or FIRST_ANSWER_WAIT passed after the upgrade.
    def serverAccept(self, subprotocol=None):
        if self.admitted:
            from twisted.internet import reactor  # daphne's (asyncio) reactor, installed by now

            self.admitted_timer = reactor.callLater(FIRST_ANSWER_WAIT, self.setup_over)
        return super().serverAccept(subprotocol)

    def serverSend(self, content, binary=False):
        super().serverSend(content, binary)
        self.setup_over()

    def serverReject(self):
        self.setup_over()
        return super().serverReject()

    def handle_exception(self, exception):
        self.setup_over()
        return super().handle_exception(exception)

    def onClose(self, wasClean, code, reason):
        self.setup_over()
        if self.turned_away:
            return  # daphne never saw this connection: nothing of its own to tear down
        return super().onClose(wasClean, code, reason)

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
        self.setup_over()
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


BUSY_BODY = b"busy: too many charge boxes connecting; retry after the given seconds"


def busy_headers() -> list[tuple[bytes, bytes]]:
    return [(b"Retry-After", str(settings.OCPP_BUSY_RETRY_AFTER).encode()),
            (b"Content-Type", b"text/plain; charset=utf-8")]


class WebRequest(http_protocol.WebRequest):
    """daphne's HTTP request, which holds a box's upgrade request as soon as it is read while the
    process is full of boxes connecting (``Arrivals``): it goes on once a place is free, or is
    answered HTTP 503 with Retry-After in daphne's own plain HTTP answer. No WebSocket protocol is
    built meanwhile, and nothing is parsed twice."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # daphne hands the application the body as it came; Twisted's parsing of form and
        # multipart bodies into request.args, which nothing reads, went through the email
        # package's Content-Type parser for every POST: a tenth of a forward API request's CPU.
        self._parsePOSTFormSubmission = False

    def process(self):
        if self.path.startswith(OCPP_PATH.encode()) and self._upgrades_to_websocket() and not arrivals.arrive(self):
            return None
        return super().process()

    def go_on(self):
        """Admitted after waiting: daphne's handling, as it would have run on arrival."""
        if not self._disconnected:
            super().process()

    def refuse_busy(self):
        if self._disconnected:
            return
        # Closed once answered: Twisted would keep an HTTP/1.1 connection open for a next request
        # that no box sends.
        self.channel.persistent = False
        self.handle_reply({"type": "http.response.start", "status": BUSY,
                           "headers": [*busy_headers(), (b"Content-Length", b"%d" % len(BUSY_BODY)),
                                       (b"Connection", b"close")]})
        self.handle_reply({"type": "http.response.body", "body": BUSY_BODY})

    def connectionLost(self, reason):
        arrivals.forget(self)
        super().connectionLost(reason)

    def _upgrades_to_websocket(self) -> bool:
        upgrade = self.requestHeaders.getRawHeaders(b"Upgrade") or [b""]
        return upgrade[0].lower() == b"websocket"


class _Pretty:
    """``pprint.pformat(value)``, made only when a log line that holds it is written."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __str__(self) -> str:
        return pprint.pformat(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


_create_application = daphne_server.Server.create_application


def _create_application_with_extension(self, protocol, scope):
    if isinstance(protocol, WebSocketProtocol):
        scope["extensions"] = {**scope.get("extensions", {}), EXTENSION: {}}
    return _create_application(self, protocol, scope)


def raise_open_files_limit() -> int:
    """Lift the soft limit on open files to the hard one: each box holds a socket, and the soft
    limit is often 1,024 while the hard one allows far more. Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):  # an infinite hard limit some kernels refuse as a soft one
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1 << 20), hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < BOXES_PER_PROCESS + FILES_BESIDES_BOXES:
        log.warning("open files limited to %d: this process cannot hold %d charge boxes "
                    "(raise the hard limit, e.g. LimitNOFILE= in systemd)", soft, BOXES_PER_PROCESS)
    return soft


# What one process is sized for (docs/performance.md), and what it holds besides boxes: database
# and Redis pools, log files, the listening socket.
BOXES_PER_PROCESS = 10_000
FILES_BESIDES_BOXES = 1024


def install() -> None:
    """Idempotent; affects daphne servers started in this process after the call."""
    ws_protocol.WebSocketFactory.protocol = WebSocketProtocol
    http_protocol.WebRequest = WebRequest  # the class daphne's HTTPFactory gives each connection
    autobahn_protocol.pformat = _Pretty
    daphne_server.Server.create_application = _create_application_with_extension
    raise_open_files_limit()
