"""Reservations: read, and cancel, which is a CancelReservation sent through the command path
(commands.services): the reservation ends when the box accepts it (commands.effects)."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView, RetrieveAPIView
from rest_framework.response import Response

from chargers.choices import ReservationState
from chargers.models import Reservation
from commands.api import CommandOut
from commands.edges import CommandInvalid
from commands.permissions import HasModelPermission, command_permitted
from commands.services import command_issue, command_validate
from core.api_answers import Present
from operations.api.common import FilteredList, answers, listing

PERMISSIONS = {"GET": "chargers.view_reservation"}
OPEN = [ReservationState.REQUESTED, ReservationState.ACCEPTED]


class ReservationOut(Present, serializers.ModelSerializer):
    box = serializers.CharField(source="box.serial")
    connectorId = serializers.IntegerField(source="connector_id", help_text="0: any connector of the box")
    idTag = serializers.CharField(source="id_tag")
    parentIdTag = serializers.CharField(source="parent_id_tag")
    expiryDate = serializers.DateTimeField(source="expiry_date")
    boxStatus = serializers.CharField(source="box_status", help_text="the box's answer; empty before it")
    transactionId = serializers.IntegerField(source="transaction_id", allow_null=True)
    endedAt = serializers.DateTimeField(source="ended_at", allow_null=True)

    class Meta:
        model = Reservation
        fields = ["id", "box", "connectorId", "idTag", "parentIdTag", "expiryDate", "state", "boxStatus",
                  "transactionId", "created", "endedAt"]


class ReservationFilters(serializers.Serializer):
    box = serializers.CharField(required=False)
    idTag = serializers.CharField(required=False)
    state = serializers.ChoiceField(ReservationState.values, required=False)


RESERVATIONS = Reservation.objects.select_related("box")


@listing(ReservationFilters, ReservationOut, "Reservations, newest first")
class ReservationsView(FilteredList):
    serializer_class = ReservationOut
    filters = ReservationFilters
    lookups = {"box": "box__serial", "idTag": "id_tag", "state": "state"}
    required_permissions = PERMISSIONS

    def base_queryset(self):
        return RESERVATIONS.all()


@extend_schema(summary="A reservation", responses=answers({200: ReservationOut}, not_found=True))
class ReservationView(RetrieveAPIView):
    permission_classes = [HasModelPermission]
    required_permissions = PERMISSIONS
    serializer_class = ReservationOut
    queryset = RESERVATIONS


class ReservationCancelView(GenericAPIView):
    permission_classes = [HasModelPermission]
    required_permissions = {"POST": "chargers.view_reservation"}
    serializer_class = CommandOut
    queryset = RESERVATIONS

    @extend_schema(
        request=None, summary="Cancel a reservation: sends CancelReservation to its box",
        description="Answers at once with the command (as GET /api/v1/commands/{id} shows it); the "
                    "reservation is cancelled when the box accepts.",
        responses=answers({202: CommandOut}, bad_input=True, not_found=True, conflict="the reservation has ended"))
    def post(self, request, pk: int):
        payload = {"reservationId": pk}
        # Who may cancel is who may send CancelReservation (commands.roles).
        if (why := command_permitted(request.user, "CancelReservation", payload)):
            raise PermissionDenied(why)
        with transaction.atomic():
            reservation = self.get_object()
            if reservation.state not in OPEN:
                return Response({"detail": f"reservation {pk} is {reservation.state}"}, status=status.HTTP_409_CONFLICT)
            try:
                command_validate(box=reservation.box, action="CancelReservation", payload=payload)
            except CommandInvalid as invalid:
                raise ValidationError({invalid.field: [invalid.message]}) from None
            command = command_issue(box=reservation.box, action="CancelReservation", payload=payload,
                                    requested_by=request.user, source="operations-api")
        return Response(CommandOut(command).data, status=status.HTTP_202_ACCEPTED)
