"""The operations API: every call the central system can make to a box, in the vocabulary of the
box's protocol (commands.edges: OCPP 1.6 action names for OCPP boxes), and its history.

POST /api/v1/boxes/{serial}/commands answers 200 with the command once the box answered or the
timeout passed (wait=true), 202 at once (wait=false); GET /api/v1/commands/{id}.
"""

from __future__ import annotations

from adrf.views import APIView
from asgiref.sync import sync_to_async
from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import RetrieveAPIView
from rest_framework.response import Response

from chargers.api import box_or_404
from commands.models import Command, CommandState
from commands.permissions import CanUseCommandApi, command_permitted
from commands.edges import CommandInvalid, command_actions
from commands.replies import command_session_wait_async, command_wait_async
from commands.services import REMOTE_START, command_issue, command_validate
from core.db import releasing_connection
from core.pagination import NewestFirst
from core.storable import holds_nul

class CommandError(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()


class CommandOut(serializers.ModelSerializer):
    box = serializers.CharField(source="box.serial")
    error = serializers.SerializerMethodField()
    answered = serializers.DateTimeField(source="answered_at", allow_null=True)
    transactionId = serializers.IntegerField(
        source="transaction_id", allow_null=True, required=False,
        help_text="RemoteStartTransaction only: the session the box started for it, once its StartTransaction has "
                  "arrived; present from then on, and on every answer to a call with waitForTransaction (null if "
                  "no session came).",
    )

    class Meta:
        model = Command
        fields = ["id", "box", "action", "payload", "state", "response", "error", "created", "answered",
                  "transactionId"]

    def to_representation(self, command):
        # DESIGN 3's shape exactly for every other command: callers check it. (A remote stop's
        # transaction_id is its target, already in its payload.)
        rendered = super().to_representation(command)
        if command.action != REMOTE_START or (command.transaction_id is None
                                              and not getattr(command, "session_waited", False)):
            del rendered["transactionId"]
        return rendered

    @extend_schema_field(CommandError(allow_null=True))
    def get_error(self, command) -> dict | None:
        if not command.error_code:
            return getattr(command, "wait_error", None)
        return {"code": command.error_code, "description": command.error_description}


class CommandIn(serializers.Serializer):
    action = serializers.CharField(max_length=40)
    payload = serializers.DictField(default=dict)
    wait = serializers.BooleanField(default=True)
    waitForTransaction = serializers.BooleanField(
        default=False,
        help_text="RemoteStartTransaction only, with wait: once the box has accepted, wait up to "
                  "REMOTE_START_SESSION_WAIT seconds (30) for its StartTransaction and answer with the session's id "
                  "in transactionId. If none arrives in time: state accepted, transactionId null and error "
                  '{"code": "NoTransactionStarted", ...}.',
    )

    def validate_action(self, action: str) -> str:
        if action not in command_actions():
            raise serializers.ValidationError(f'"{action}" is not a valid choice.')
        return action

    def validate(self, data):
        # The schemas allow a NUL in a string, PostgreSQL's jsonb does not: saving the command failed (500).
        if holds_nul(data["payload"]):
            raise serializers.ValidationError({"payload": ["PropertyConstraintViolation: a string holds a NUL"]})
        if data["waitForTransaction"] and data["action"] != REMOTE_START:
            raise serializers.ValidationError({"waitForTransaction": [f"only for {REMOTE_START}"]})
        if data["waitForTransaction"] and not data["wait"]:
            raise serializers.ValidationError({"waitForTransaction": ["needs wait: true"]})
        return data


class BoxCommandsView(APIView):
    permission_classes = [CanUseCommandApi]

    @extend_schema(request=CommandIn, responses={200: CommandOut, 202: CommandOut}, summary="Send an OCPP 1.6 command")
    async def post(self, request, serial: str):
        incoming = CommandIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        if (why := await sync_to_async(command_permitted)(request.user, data["action"], data["payload"])):
            raise PermissionDenied(why)
        command = await releasing_connection(self._issue)(request.user, serial, data)
        if not data["wait"]:
            return Response(CommandOut(command).data, status=status.HTTP_202_ACCEPTED)
        if command.is_open:
            await command_wait_async(command.pk, settings.OCPP_CALL_TIMEOUT + 2)
        command = await Command.objects.select_related("box").aget(pk=command.pk)
        if data["waitForTransaction"]:
            command.session_waited = True
            if command.state == CommandState.ACCEPTED and command.transaction_id is None:
                command = await self._session_wait(command)
        return Response(CommandOut(command).data)

    @staticmethod
    async def _session_wait(command: Command) -> Command:
        """The accepted remote start once the box's StartTransaction for it is committed (woken
        through Redis by commands.services.remote_start_claims_release), or, after
        REMOTE_START_SESSION_WAIT seconds, as it stands with an error that says no session began."""
        await command_session_wait_async(command.pk, settings.REMOTE_START_SESSION_WAIT)
        command = await Command.objects.select_related("box").aget(pk=command.pk)
        command.session_waited = True
        if command.transaction_id is None:
            command.wait_error = {
                "code": "NoTransactionStarted",
                "description": f"the charge box accepted the remote start but started no transaction within "
                               f"{settings.REMOTE_START_SESSION_WAIT:g} s",
            }
        return command

    @staticmethod
    def _issue(user, serial, data) -> Command:
        box = box_or_404(serial)
        # The box would refuse a malformed call with an error: refuse it here, before it is queued.
        try:
            command_validate(box=box, action=data["action"], payload=data["payload"])
        except CommandInvalid as invalid:
            raise serializers.ValidationError({invalid.field: [invalid.message]}) from None
        return command_issue(box=box, action=data["action"], payload=data["payload"], requested_by=user,
                             source="operations-api")

    @extend_schema(responses={200: NewestFirst().get_paginated_response_schema(
        {"type": "array", "items": {"$ref": "#/components/schemas/CommandOut"}})}, summary="A box's commands, newest first")
    async def get(self, request, serial: str):
        # Django wants one kind of handler per view: the listing runs in a thread.
        return await sync_to_async(self._list)(request, serial)

    def _list(self, request, serial: str):
        box = box_or_404(serial)
        paginator = NewestFirst()
        page = paginator.paginate_queryset(Command.objects.filter(box=box).select_related("box"), request, view=self)
        return paginator.get_paginated_response(CommandOut(page, many=True).data)


class CommandView(RetrieveAPIView):
    permission_classes = [CanUseCommandApi]
    serializer_class = CommandOut
    queryset = Command.objects.select_related("box")
