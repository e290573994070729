"""The EVCHONG reverse API (EVCHONG 3.1-3.4): the EVCHONG backend drives a box and blocks until
the box has answered or a timeout passes (EVCHONG 1 f: our timeout exceeds the box's).

The views are async: a caller waits on a Redis reply key, holding no thread, so a thousand calls
can be in flight at once.
"""

from __future__ import annotations

from datetime import timezone as dt_timezone

from adrf.views import APIView
from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.authentication import TokenAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from chargers.models import ChargeBox
from commands.models import Command, CommandState
from commands.permissions import CanUseCommandApi, command_permitted
from commands.services import command_issue, command_wait_async, remote_start_issue, remote_stop_issue
from evchong.db import releasing_connection
from evchong_api.errors import exception_handler
from evchong_api.fields import EpochMillisField, StrictIntegerField, parse_iso
from evchong_api.parsing import AnyAccept, ChunkedBody, EvchongParser, flatten
from evchong_api.serializers import INT32_MAX, box_serial

ANSWER = inline_serializer(
    "ReverseAnswer",
    {"status": serializers.ChoiceField(["Accepted", "Rejected"]), "message": serializers.CharField(required=False)},
)


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
    )
    retrieveDate = RetrieveDateField()
    retries = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=INT32_MAX)
    retryInterval = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=INT32_MAX)


class ResetInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    type = serializers.ChoiceField(["Hard", "Soft"])


def reverse_exception_handler(exc, context):
    """Errors in the reverse API's own form, {"status": "Rejected", "message": ...}, with the
    forward API's field names beside it; Token (not Basic) is the challenge."""
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed, exceptions.PermissionDenied)):
        return Response({"status": "Rejected", "message": str(exc.detail)}, status=exc.status_code,
                        headers={"WWW-Authenticate": "Token"} if exc.status_code == 401 else {})
    response = exception_handler(exc, context)
    if response is not None:
        body = response.data
        response.data = {"status": "Rejected", "message": f"{body['field']}: {body['problem']}"[:255], **body}
    return response


def rejected(message: str) -> Response:
    return Response({"status": "Rejected", "message": message[:255]})


def answer_of(command: Command) -> Response:
    """The box's answer in EVCHONG's words: Accepted, or Rejected with the reason (String[255])."""
    if command.state == CommandState.ACCEPTED:
        return Response({"status": "Accepted"})
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


class ReverseView(ChunkedBody, APIView):
    method: str
    Input: type[serializers.Serializer]
    authentication_classes = [TokenAuthentication]
    permission_classes = [CanUseCommandApi]
    parser_classes = [EvchongParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAccept

    def get_exception_handler(self):
        return reverse_exception_handler

    async def post(self, request):
        serializer = self.Input(data=flatten(request.data))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        command = await releasing_connection(self._issue)(request.user, data)
        if command is None:
            return rejected(f"unknown charge box {data['chargeBoxSerialNumber']}")
        if command.is_open:
            # Leave a margin under the caller's own timeout for the database read and the answer.
            await command_wait_async(command.pk, settings.REVERSE_API_TIMEOUT - 1)
            command = await Command.objects.aget(pk=command.pk)
        return answer_of(command)

    def _issue(self, user, data) -> Command | None:
        if (why := command_permitted(user, self.method, {"type": data.get("type")} if "type" in data else {})):
            raise exceptions.PermissionDenied(why)
        box = ChargeBox.objects.filter(serial=data["chargeBoxSerialNumber"]).first()
        if box is None:
            return None
        return self.issue(box, user, data)


@extend_schema(request=RemoteStartInput, responses=ANSWER, summary="EVCHONG 3.1 RemoteStartTransaction")
class RemoteStartView(ReverseView):
    method, Input = "RemoteStartTransaction", RemoteStartInput

    def issue(self, box, user, data):
        return remote_start_issue(box=box, connector_id=data["connectorId"], id_tag=data["idTag"],
                                  requested_by=user, source="reverse-api")


@extend_schema(request=RemoteStopInput, responses=ANSWER, summary="EVCHONG 3.2 RemoteStopTransaction")
class RemoteStopView(ReverseView):
    method, Input = "RemoteStopTransaction", RemoteStopInput

    def issue(self, box, user, data):
        return remote_stop_issue(box=box, transaction_id=data["transactionId"], requested_by=user,
                                 source="reverse-api")


@extend_schema(request=UpdateFirmwareInput, responses=ANSWER, summary="EVCHONG 3.3 UpdateFirmware")
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
        return command_issue(box=box, action="UpdateFirmware", payload=payload, requested_by=user,
                             source="reverse-api")


@extend_schema(request=ResetInput, responses=ANSWER, summary="EVCHONG 3.4 Reset")
class ResetView(ReverseView):
    method, Input = "Reset", ResetInput

    def issue(self, box, user, data):
        return command_issue(box=box, action="Reset", payload={"type": data["type"]}, requested_by=user,
                             source="reverse-api")


REVERSE_VIEWS = [RemoteStartView, RemoteStopView, UpdateFirmwareView, ResetView]
