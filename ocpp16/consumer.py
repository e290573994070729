"""The OCPP 1.6J WebSocket consumer: one instance per box connection. It parses frames, submits the
box's CALLs to the inbound pipeline (through ocpp16.edge) and sends the answers once committed, and
sends our calls to the box (commands delivered through ocpp16.delivery), one at a time, settling
each command with the box's answer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from psycopg_pool import PoolTimeout
from redis.exceptions import RedisError

from chargers.choices import Direction, Protocol
from chargers.models import ChargeBox
from chargers.services import box_by_serial, box_connected, box_disconnected, box_register
from commands.outcomes import Outcome
from commands.services import command_settle
from core.errors import DomainError
from inbound.edge import Message
from inbound.pipeline import box_mark_read
from ocpp16.delivery import box_group
from ocpp16.edge import EDGE, writers
from ocpp16.errors import ErrorCode, OcppError
from ocpp16.lease import PROCESS, lease_hold
from ocpp16.rpc import (
    CALLERROR,
    CALLRESULT,
    Call,
    CallResult,
    FrameError,
    call_frame,
    error_frame,
    new_unique_id,
    parse,
)
from ocpp16.schemas import validate_response
from security.boxguard import basic_credentials as basic_header_credentials
from security.boxguard import box_outcome, box_refused_for
from security.buckets import TokenBucket
from security.clients import address_of_scope

log = logging.getLogger(__name__)

SUBPROTOCOL = "ocpp1.6"
# The ASGI "WebSocket Denial Response" extension: an HTTP answer instead of the upgrade.
DENIAL_EXTENSION = "websocket.http.response"
# What can go wrong setting a connection up when the database or Redis is overloaded or away.
SETUP_FAILURES = (DatabaseError, PoolTimeout, RedisError, OSError, TimeoutError)
# daphne gives a connection 5 s to be accepted (--websocket_connect_timeout); a look-up of the box
# still waiting for the database after this long is answered 503 while the box can still hear it
# (the pool itself waits DB_POOL_TIMEOUT, 10 s, for a connection).
LOOKUP_TIMEOUT = 3


def in_thread(function):
    """Database work off the event loop, in a worker thread of its own (not the one thread that
    thread-sensitive calls share), so one box's slow query never holds up another box."""
    return database_sync_to_async(function, thread_sensitive=False)


def charge_box_id(scope: dict) -> str:
    """The last path segment, percent-decoded (OCPP-J 1.6 §3.1.1): "/ocpp/RDAM%20123" is "RDAM 123".
    Taken from the raw path, so that an encoded "/" stays part of the id."""
    raw = scope.get("raw_path") or scope["path"].encode()
    try:
        serial = unquote_to_bytes(raw.rsplit(b"/", 1)[-1]).decode("utf-8")
    except UnicodeDecodeError:
        return ""
    # No box has a NUL in its id, and PostgreSQL refuses one in a query: "/ocpp/CP%00" was a 500.
    return "" if "\x00" in serial else serial


def basic_credentials(scope: dict) -> tuple[str, str] | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return basic_header_credentials(value)
    return None


def box_for_connection(*, serial: str, credentials: tuple[str, str] | None) -> tuple[int, ChargeBox | None]:
    """(HTTP status, box) for a box asking to connect: 200, 404 unknown, 401 bad credentials."""
    box = box_by_serial(serial)
    if box is None:
        return (200 if settings.OCPP_AUTO_REGISTER else 404), None
    # Security profile 1: HTTP Basic, username = the charge box id (OCPP-J 1.6 §6.2.2).
    if box.requires_auth and not (credentials and credentials[0] == serial and box.check_password(credentials[1])):
        return 401, box
    return 200, box


@dataclass
class OutgoingCall:
    """A command (commands app) on its way to the box; its row gets the outcome."""

    action: str
    payload: dict
    command_id: int
    deadline: float  # time.time() at which the caller stops waiting
    unique_id: str = ""
    frame: str = ""  # as sent; journaled with the box's answer, or alone when none comes
    timer: asyncio.Task | None = None


class OcppConsumer(AsyncWebsocketConsumer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.serial = ""
        self.box: ChargeBox | None = None
        self.node = ""  # set once the connection is ours: where the box can be reached
        self.connected_at = 0.0
        self.outbox: deque[OutgoingCall] = deque()
        self.pending: OutgoingCall | None = None
        # The box's CALLs beyond this rate are answered CALLERROR (security.buckets): in the
        # process, no Redis round trip per frame.
        self.bucket = TokenBucket(settings.OCPP_RATE_PER_SECOND, settings.OCPP_RATE_BURST)
        self.flooding = False

    async def dispatch(self, message):
        # Channels closes stale database connections before every event, through the one thread
        # that all consumers share; our database work runs in worker threads that clean up after
        # themselves, so no event needs to queue for that thread.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.serial = charge_box_id(self.scope)
        if not self.serial:
            return await self.deny(404, "no charge box id in the path")
        credentials, source = basic_credentials(self.scope), address_of_scope(self.scope)
        # Guessing passwords: refused before the password is checked (security.bruteforce), per
        # (address, username) and per address, so nobody elsewhere can lock this box out.
        wait = await box_refused_for(source, credentials)
        if wait:
            log.warning("the box %s: too many failed logins from %s; answered 429", self.serial, source)
            return await self.deny(429, f"too many failed logins from this address; try again in {wait} s",
                                   retry_after=wait)
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT):
                status, box = await in_thread(box_for_connection)(serial=self.serial, credentials=credentials)
        except SETUP_FAILURES:
            # PostgreSQL away: "busy, come back" before the upgrade, as for a failed set-up below.
            log.warning("the box %s could not be looked up; answered 503", self.serial, exc_info=True)
            return await self.deny(503, "busy: the central system cannot reach its database")
        if status == 401 or (box is not None and box.requires_auth):
            await box_outcome(source, credentials, accepted=status == 200)
        if status != 200:
            return await self.deny(status, "unknown charge box" if status == 404 else "authentication failed")
        if SUBPROTOCOL not in self.scope.get("subprotocols", []):
            # OCPP-J 1.6 §3.2: complete the handshake without a subprotocol, then close at once.
            await self.accept()
            return await self.close()
        try:
            self.box = box or await in_thread(box_register)(serial=self.serial)
        except DomainError:
            return await self.deny(404, "not a valid charge box id")
        except SETUP_FAILURES:
            log.warning("the box %s could not be registered; answered 503", self.serial, exc_info=True)
            return await self.deny(503, "busy: the central system cannot reach its database")
        try:
            await self.set_up()
        except SETUP_FAILURES:
            # Before the upgrade, so the box hears "busy" and retries after Retry-After, instead of
            # holding a socket nobody serves.
            log.exception("the connection of %s could not be set up", self.serial)
            if self.node:
                await in_thread(box_disconnected)(box=self.box, node=self.node)
                self.node = ""
            return await self.deny(503, "busy: the connection could not be set up")
        await self.accept(SUBPROTOCOL)

    async def set_up(self) -> None:
        """Everything a connection needs before the box may talk, all of it before the upgrade:
        that is inside ocpp16.wsserver's admission bound, and frames the box sends early wait."""
        box_mark_read(self.box)
        self.connected_at = time.time()
        # The box is online while this process's lease lasts and the connection is open (chargers.presence).
        await lease_hold()
        self.node = f"{PROCESS}/{self.channel_name}"
        replaced = await in_thread(box_connected)(box=self.box, protocol=Protocol.OCPP16, node=self.node)
        group = box_group(self.serial)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups.append(group)
        if replaced:
            # The older connection of this box, in whichever process, closes when it hears this.
            # Sent only then: every message goes through one lock of the process's channel layer,
            # and in a reconnect storm most boxes replace nothing (docs/adr/0012).
            await self.channel_layer.group_send(
                group, {"type": "ocpp.replace", "channel": self.channel_name, "since": self.connected_at}
            )

    async def deny(self, status: int, reason: str, retry_after: int | None = None) -> None:
        """Refuse before the upgrade, with an HTTP status where the server can send one."""
        if DENIAL_EXTENSION not in self.scope.get("extensions", {}):
            return await self.close()  # ASGI: HTTP 403
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        if status == 401:
            headers.append((b"www-authenticate", b'Basic realm="evchong"'))
        if status == 503:
            retry_after = settings.OCPP_BUSY_RETRY_AFTER
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        await self.base_send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await self.base_send({"type": "websocket.http.response.body", "body": reason.encode()})

    async def disconnect(self, code):
        calls = [self.pending, *self.outbox]
        self.pending, self.outbox = None, deque()
        for call in filter(None, calls):
            if call.timer:
                call.timer.cancel()
            await self.unanswered(call)
            await self.report(call, Outcome.offline())
        if self.node:
            await in_thread(box_disconnected)(box=self.box, node=self.node)

    async def ocpp_replace(self, message):
        if message["channel"] != self.channel_name and message["since"] >= self.connected_at:
            # Out of the group first, so that calls from now on reach the new connection only.
            await self.channel_layer.group_discard(box_group(self.serial), self.channel_name)
            self.groups.clear()
            await self.close(code=1000)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            # OCPP-J frames are text; a box that sends its JSON as binary is still understood.
            try:
                text_data = bytes_data.decode("utf-8")
            except UnicodeDecodeError:
                if wait := self.bucket.take():
                    return await self.refuse_flood(None, wait)
                broken = OcppError(ErrorCode.FORMATION_VIOLATION, "frames must be UTF-8 JSON (OCPP-J 1.6 §4.1.2)")
                return await self.answer(repr(bytes_data[:1000]), None, broken)
        try:
            message = parse(text_data)
        except FrameError as exc:
            if exc.message_type not in (CALLRESULT, CALLERROR):
                # A broken frame costs a journal entry: counted as a CALL, so that garbage cannot flood either.
                if wait := self.bucket.take():
                    return await self.refuse_flood(exc.unique_id, wait)
                return await self.answer(text_data, None, exc)
            return await self.settle(text_data, exc.unique_id, Outcome.error(exc.code, f"broken answer: {exc.description}"))
        if isinstance(message, Call):
            if wait := self.bucket.take():
                return await self.refuse_flood(message.unique_id, wait)
            self.flooding = False
            return await self.answer(text_data, message)
        if isinstance(message, CallResult):
            return await self.settle(text_data, message.unique_id, None, result=message.payload)
        return await self.settle(text_data, message.unique_id, Outcome.error(message.code, message.description))

    async def answer(self, frame: str, call: Call | None, error: OcppError | None = None) -> None:
        """Answer a CALL from the box, after its data is committed (write, then acknowledge)."""
        if call is not None:
            message = Message(EDGE, frame, Direction.IN, call.action, self.box, request=call.payload,
                              reference=call.unique_id, answers=True)
        else:  # a frame found broken: answered with ``error`` under the id it carried, if any
            message = Message(EDGE, frame, Direction.IN, "", self.box, reference=error.unique_id, answers=True,
                              failure=error)
        await self.send(text_data=(await writers().submit(message)).reply)

    async def refuse_flood(self, unique_id: str | None, wait: float) -> None:
        """A CALL beyond the box's rate: answered at once, nothing stored, the connection kept. The box
        may send it again later; its data is not lost, only not yet accepted."""
        if not self.flooding:
            self.flooding = True  # logged once per flood, not per frame
            log.warning("the box %s sends more than %g CALLs a second; answering CALLERROR", self.serial,
                        settings.OCPP_RATE_PER_SECOND)
        error = OcppError(ErrorCode.GENERIC_ERROR,
                          f"rate limit: more than {settings.OCPP_RATE_PER_SECOND:g} messages a second from this "
                          f"charge box; not processed, send it again in {wait:.2f} s", unique_id=unique_id)
        await self.send(text_data=error_frame(error, details={"retryAfter": round(wait, 3)}))

    async def journal(self, frame: str, direction: str, action: str) -> None:
        """A frame that is only journaled: an answer from the box, or a CALL of ours."""
        await writers().submit(Message(EDGE, frame, direction, action, self.box))

    async def settle(self, frame: str, unique_id: str | None, outcome: Outcome | None, result: dict | None = None):
        """An answer from the box: settles our pending call when it is the one answered, and is
        otherwise a stray or late answer, journaled and ignored (OCPP-J 1.6 §4.1.1)."""
        call = self.pending
        if call is None or unique_id != call.unique_id:
            return await self.journal(frame, Direction.IN, "")
        self.pending = None
        call.timer.cancel()
        if outcome is None:
            try:
                validate_response(call.action, result)
                outcome = Outcome.answered(result)
            except OcppError as exc:
                outcome = Outcome.error(exc.code, f"invalid answer: {exc.description}")
        # The command's outcome is written with the answer's journal entry, and its waiters are
        # woken once that commits (inbound.pipeline): one commit, and no thread of its own.
        await writers().submit(Message(EDGE, frame, Direction.IN, call.action, self.box, sent=call.frame,
                                       command_id=call.command_id, outcome=outcome))
        await self.send_next()

    async def report(self, call: OutgoingCall, outcome: Outcome) -> None:
        """The outcome of a call the box did not answer (timed out, or the box went away), on its
        command's row, once; that wakes its waiters."""
        try:
            await in_thread(command_settle)(command_id=call.command_id, outcome=outcome)
        except Exception:
            # Whatever went wrong is the command's, not the box's: its connection stays.
            log.exception("command %s: its outcome could not be recorded; the sweep will end it", call.command_id)

    async def ocpp_call(self, message):
        """A command for the box (ocpp16.delivery): queued, since only one CALL may be unanswered at a
        time (OCPP-J 1.6 §4.1.1)."""
        self.outbox.append(OutgoingCall(message["action"], message["payload"], message["command_id"],
                                        message["deadline"]))
        await self.send_next()

    async def send_next(self) -> None:
        while self.pending is None and self.outbox:
            call = self.outbox.popleft()
            left = call.deadline - time.time()
            if left <= 0:
                await self.report(call, Outcome.timeout())
                continue
            call.unique_id = new_unique_id()
            # Claimed before the first await: the timer and the receive handler both call us.
            self.pending = call
            call.timer = asyncio.create_task(self.expire(call, left))
            # Sent at once, journaled with its answer (settle) or its end (unanswered): waiting for
            # a commit before sending put a batch of the writers' queue into every command's round trip.
            call.frame = call_frame(call.unique_id, call.action, call.payload)
            await self.send(text_data=call.frame)

    async def expire(self, call: OutgoingCall, after: float) -> None:
        await asyncio.sleep(after)
        if self.pending is call:
            self.pending = None
            await self.unanswered(call)
            await self.report(call, Outcome.timeout())
            await self.send_next()

    async def unanswered(self, call: OutgoingCall) -> None:
        """A CALL of ours that no answer will settle (timed out, or the box went away) is
        journaled alone; one never sent is not."""
        if call.frame:
            await self.journal(call.frame, Direction.OUT, call.action)
