"""The EVCHONG reverse API (EVCHONG 3.1-3.4): the EVCHONG backend drives a box and blocks until
the box has answered or a timeout passes (EVCHONG 1 f: our timeout exceeds the box's).

The views are async: a caller waits on a Redis reply key, holding no thread, so a thousand calls
can be in flight at once. Their database work (token, permission, the issue under its row lock)
is one step per call, run by a bounded number of threads at a time (``ISSUE_SLOTS``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timezone as dt_timezone
from types import SimpleNamespace

from adrf.views import APIView
from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from chargers.services import box_by_serial
from commands.models import Command, CommandState
from commands.permissions import CanUseCommandApi, command_permitted
from commands.replies import command_wait_async
from commands.services import command_issue, command_refuse, remote_start_issue, remote_stop_issue
from core.db import Busy, DatabaseSlots, releasing_connection
from evchong_api.errors import drf_exception_handler, error_answer
from evchong_api.fastpath import read_body, send_json, size_default_executor
from evchong_api.fields import EpochMillisField, StrictIntegerField, parse_iso
from evchong_api.parsing import AnyAccept, ChunkedBody, EnvelopeError, EvchongParser, flatten, parse_body
from evchong_api.serializers import INT32_MAX, box_serial, validated
from security.authentication import ApiTokenAuthentication
from security.clients import address_of_request, address_of_scope

log = logging.getLogger(__name__)

ANSWER = inline_serializer(
    "ReverseAnswer",
    {"status": serializers.ChoiceField(["Accepted", "Rejected"]), "message": serializers.CharField(required=False)},
)


@extend_schema_field({"type": "string", "example": "2026-12-01 02:00:00"})
class RetrieveDateField(EpochMillisField):
    """EVCHONG 3.3: "yyyy-MM-dd HH:mm:ss" in the operator's time zone (TIME_ZONE); ISO 8601 and
    epoch milliseconds are taken too. Any time written without a zone is the operator's: a
    "2026-12-01T02:00:00" meant the same as "2026-12-01 02:00:00", not eight hours later."""

    def to_internal_value(self, data):
        if isinstance(data, str) and not data.strip().lstrip("-").isdigit():
            moment = parse_iso(data.strip())
            if moment is not None and timezone.is_naive(moment):
                return timezone.make_aware(moment, timezone.get_default_timezone())
        return super().to_internal_value(data)


class RemoteStartInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    connectorId = StrictIntegerField(min_value=1, max_value=INT32_MAX)
    idTag = serializers.CharField(max_length=20)


class RemoteStopInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    transactionId = StrictIntegerField(min_value=0, max_value=INT32_MAX)


class UpdateFirmwareInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    # Any URI with a scheme, as OCPP 1.6's UpdateFirmware.req takes it (format "uri"). URLField
    # refused real firmware servers: hosts named without a domain (ftp://fwserver/) and sftp://.
    location = serializers.RegexField(
        r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$", max_length=512,
        error_messages={"invalid": "Enter a URI such as ftp://host/path/firmware.bin."},
        help_text="ftp:// or ftps:// (EVCHONG rule 1 h); any other scheme is answered Rejected",
    )
    retrieveDate = RetrieveDateField()
    retries = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=INT32_MAX)
    retryInterval = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=INT32_MAX)


# EVCHONG rule 1 h: firmware is downloaded over FTP or FTPS. The operations API sends what it is given.
FIRMWARE_SCHEMES = {"ftp", "ftps"}


def firmware_location_refusal(location: str) -> str | None:
    scheme = location.partition("://")[0].lower()
    if scheme in FIRMWARE_SCHEMES:
        return None
    return (f"EVCHONG rule h (section 1 h): firmware is downloaded over FTP or FTPS only; the location must be "
            f"an ftp:// or ftps:// URL, not {scheme}://")


class ResetInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    type = serializers.ChoiceField(["Hard", "Soft"])


Answer = tuple[int, dict, dict]  # HTTP status, body, headers


def reverse_error_answer(exc) -> Answer | None:
    """Errors in the reverse API's own form, {"status": "Rejected", "message": ...}, with the
    forward API's field names beside it; Token (not Basic) is the challenge. None for a bug (a 500).
    Both paths (the DRF views and ``ReverseAPI``) answer through it."""
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed, exceptions.PermissionDenied)):
        return (exc.status_code, {"status": "Rejected", "message": str(exc.detail)},
                {"WWW-Authenticate": "Token"} if exc.status_code == 401 else {})
    if isinstance(exc, exceptions.Throttled):
        return 429, {"status": "Rejected", "message": str(exc.detail)}, {"Retry-After": str(exc.wait or 1)}
    found = error_answer(exc)
    if found is None:
        return None
    code, body, headers = found
    return code, {"status": "Rejected", "message": f"{body['field']}: {body['problem']}"[:255], **body}, headers


reverse_exception_handler = drf_exception_handler(reverse_error_answer)


def rejected(message: str) -> Answer:
    return 200, {"status": "Rejected", "message": message[:255]}, {}


def answer_of(command: Command) -> Answer:
    """The box's answer in EVCHONG's words: Accepted, or Rejected with the reason (String[255])."""
    if command.state == CommandState.ACCEPTED:
        return 200, {"status": "Accepted"}, {}
    if command.state == CommandState.REJECTED and command.error_code == "Refused":
        return rejected(command.error_description)
    if command.state == CommandState.REJECTED:
        status = (command.response or {}).get("status", "Rejected")
        return rejected(f"the charge box refused the command ({status})")
    if command.state == CommandState.TIMED_OUT:
        return rejected(f"the charge box did not answer within {settings.OCPP_CALL_TIMEOUT:g} s")
    if command.state == CommandState.FAILED:
        return rejected(f"charge box communication failed: {command.error_description or command.error_code}")
    return rejected(f"no answer from the charge box within {settings.REVERSE_API_TIMEOUT:g} s; command {command.pk}")


ISSUE_SLOTS = DatabaseSlots(settings.COMMAND_ISSUE_CONCURRENCY)


def issue_patience() -> float:
    """How long a call may wait for an issue slot: what is left of REVERSE_API_TIMEOUT once the
    box has had its OCPP_CALL_TIMEOUT, less a margin for delivery and the answer. Waiting longer
    would mean answering "no answer within 25 s" while the box still has time (EVCHONG 1 f)."""
    return max(settings.REVERSE_API_TIMEOUT - settings.OCPP_CALL_TIMEOUT - 2, 0.5)


# Seconds a caller refused for load is asked to wait before trying again.
BUSY_RETRY_AFTER = 2


def busy() -> Answer:
    return (503, {"status": "Rejected", "message": "the central system is busy; nothing was sent, try again"},
            {"Retry-After": str(BUSY_RETRY_AFTER)})


_TOKENS = ApiTokenAuthentication()


def command_api_user(authorization: str, source: str, path: str):
    """The caller of an Authorization header from ``source``, as the token authentication and the
    command APIs' permission find it: NotAuthenticated, AuthenticationFailed, PermissionDenied (or
    Throttled) otherwise."""
    found = _TOKENS.authenticate(SimpleNamespace(META={"HTTP_AUTHORIZATION": authorization, "REMOTE_ADDR": source},
                                                 path=path, method="POST"))
    if found is None:
        raise exceptions.NotAuthenticated()
    user = found[0]
    if not CanUseCommandApi().has_permission(SimpleNamespace(user=user), None):
        raise exceptions.PermissionDenied(CanUseCommandApi.message)
    return user


class ReverseView(ChunkedBody, APIView):
    method: str
    Input: type[serializers.Serializer]
    authentication_classes = [ApiTokenAuthentication]
    permission_classes = [CanUseCommandApi]
    parser_classes = [EvchongParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAccept

    def get_exception_handler(self):
        return reverse_exception_handler

    # DRF authenticates and checks permissions in ``initial``, which adrf runs in a thread of its
    # own for every request, unbounded. Both read the database, so they run in the issue step.
    def perform_authentication(self, request):
        pass

    def check_permissions(self, request):
        pass

    async def post(self, request):
        code, body, headers = await self.answer(request.META.get("HTTP_AUTHORIZATION", ""), lambda: request.data,
                                                source=address_of_request(request))
        return Response(body, status=code, headers=headers or None)

    async def answer(self, authorization: str, read_document: Callable[[], dict], own_threads: bool = False,
                     source: str = "") -> Answer:
        """The whole call, for both paths; errors are raised, for the path to answer them.
        ``own_threads``: the issue step runs in the slots' own threads (``DatabaseSlots.run``)."""
        # Leave a margin under the caller's own timeout for the answer.
        deadline = time.monotonic() + settings.REVERSE_API_TIMEOUT - 1
        try:
            command, data = await ISSUE_SLOTS.run(self._issue, authorization, source, read_document,
                                                  patience=issue_patience(), own_threads=own_threads)
        except Busy:
            return busy()
        if command is None:
            return rejected(f"unknown charge box {data['chargeBoxSerialNumber']}")
        if command.is_open:
            answered = await command_wait_async(command.pk, deadline - time.monotonic())
            # No answer in time: the row says what became of the command so far.
            command = answered or await releasing_connection(Command.objects.get, thread_sensitive=not own_threads)(
                pk=command.pk)
        return answer_of(command)

    def _issue(self, authorization: str, source: str, read_document: Callable[[], dict]) -> tuple[Command | None, dict]:
        """Everything that needs the database, in DRF's order: who calls, may they, is the request
        well formed, then the command (None: no such box)."""
        user = command_api_user(authorization, source, PREFIX + self.method)
        data = validated(self.Input, flatten(read_document()))
        if (why := command_permitted(user, self.method, {"type": data.get("type")} if "type" in data else {})):
            raise exceptions.PermissionDenied(why)
        box = box_by_serial(data["chargeBoxSerialNumber"])
        if box is None:
            return None, data
        return self.issue(box, user, data), data


@extend_schema(request={"application/json": RemoteStartInput}, responses=ANSWER, summary="EVCHONG 3.1 RemoteStartTransaction")
class RemoteStartView(ReverseView):
    method, Input = "RemoteStartTransaction", RemoteStartInput

    def issue(self, box, user, data):
        return remote_start_issue(box=box, connector_id=data["connectorId"], id_tag=data["idTag"],
                                  requested_by=user, source="reverse-api")


@extend_schema(request={"application/json": RemoteStopInput}, responses=ANSWER, summary="EVCHONG 3.2 RemoteStopTransaction")
class RemoteStopView(ReverseView):
    method, Input = "RemoteStopTransaction", RemoteStopInput

    def issue(self, box, user, data):
        return remote_stop_issue(box=box, transaction_id=data["transactionId"], requested_by=user,
                                 source="reverse-api")


@extend_schema(request={"application/json": UpdateFirmwareInput}, responses=ANSWER, summary="EVCHONG 3.3 UpdateFirmware")
class UpdateFirmwareView(ReverseView):
    method, Input = "UpdateFirmware", UpdateFirmwareInput

    def issue(self, box, user, data):
        payload = {
            "location": data["location"],
            "retrieveDate": data["retrieveDate"].astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for name in ("retries", "retryInterval"):
            if data.get(name) is not None:
                payload[name] = data[name]
        if (why := firmware_location_refusal(data["location"])) is not None:
            log.warning("UpdateFirmware for %s refused, not sent: %s", box.serial, why)
            return command_refuse(box=box, action="UpdateFirmware", payload=payload, reason=why, requested_by=user,
                                  source="reverse-api")
        return command_issue(box=box, action="UpdateFirmware", payload=payload, requested_by=user,
                             source="reverse-api")


@extend_schema(request={"application/json": ResetInput}, responses=ANSWER, summary="EVCHONG 3.4 Reset")
class ResetView(ReverseView):
    method, Input = "Reset", ResetInput

    def issue(self, box, user, data):
        return command_issue(box=box, action="Reset", payload={"type": data["type"]}, requested_by=user,
                             source="reverse-api")


REVERSE_VIEWS = [RemoteStartView, RemoteStopView, UpdateFirmwareView, ResetView]
PREFIX = "/evchong-api/reverse/v1/"
VIEWS_BY_PATH = {PREFIX + view.method: view for view in REVERSE_VIEWS}
logger = logging.getLogger("django.request")  # where Django reports the 500s of the other path


class ReverseAPI:
    """ASGI middleware: the reverse methods' POSTs answered in front of Django, everything else
    handed to ``app``. Through Django a call crossed seven middlewares and the request signals, a
    dozen thread hops for nothing a backend uses, then DRF's request plumbing, all competing for
    the one process with the boxes' frames; here it is the views' own ``answer`` (one thread hop,
    in an issue slot) with their errors (``reverse_error_answer``), as the forward API's lean path
    does (evchong_api.fastpath). Multipart bodies still go to Django, whose parser reads them.

    ``own_threads``: the issue steps run in the issue slots' own threads (a server); a test in a
    transaction passes False, so that they run in its thread, where its transaction is."""

    def __init__(self, app, own_threads: bool = True):
        self.app, self.own_threads = app, own_threads

    async def __call__(self, scope, receive, send):
        view = VIEWS_BY_PATH.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        headers = dict(scope["headers"]) if view is not None else {}
        if view is None or headers.get(b"content-type", b"")[:10].lower() == b"multipart/":
            return await self.app(scope, receive, send)
        size_default_executor()
        body = await read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if body is None:
            return  # the caller went away
        answer = await _serve(view(), headers.get(b"authorization", b"").decode("latin-1"), body, self.own_threads,
                              address_of_scope(scope))
        await send_json(send, *answer)


def _document(body) -> dict:
    if isinstance(body, EnvelopeError):
        raise body
    return parse_body(body) if body else {}  # DRF reads an empty body as {}, so the fields are named


async def _serve(view: ReverseView, authorization: str, body, own_threads: bool, source: str) -> Answer:
    try:
        return await view.answer(authorization, lambda: _document(body), own_threads, source)
    except Exception as exc:
        found = reverse_error_answer(exc)
        if found is None:
            logger.exception("Internal Server Error: %s%s", PREFIX, view.method)
            return 500, {"status": "Rejected", "message": "internal server error"}, {}
        return found
