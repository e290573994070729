"""Boxes: the list (by registration status, online, station, protocol), approving a Pending box,
setting a box's password. GET /api/v1/boxes/{serial} stays chargers.api's (DESIGN.md §3)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from chargers.api import BoxOut, box_or_404
from chargers.choices import Protocol, RegistrationStatus
from chargers.models import ChargeBox
from chargers.services import box_password_set
from commands.permissions import HasModelPermission
from commands.services import box_accept
from core.api_answers import Present
from operations.api.common import FilteredList, answers, listing
from status.queries import online_q

CHANGE_BOX = {"POST": "chargers.change_chargebox", "PUT": "chargers.change_chargebox"}


class BoxListOut(Present, BoxOut):
    """A box in a list: as GET /api/v1/boxes/{serial} shows it, and how it is registered."""

    registrationStatus = serializers.CharField(source="registration_status")
    station = serializers.CharField(source="station.code", allow_null=True, default=None)
    protocol = serializers.CharField(help_text="the protocol it last spoke; empty: never heard from")

    class Meta(BoxOut.Meta):
        fields = BoxOut.Meta.fields + ["registrationStatus", "station", "protocol", "vendor", "model"]


class BoxFilters(serializers.Serializer):
    registrationStatus = serializers.ChoiceField(RegistrationStatus.values, required=False)
    online = serializers.BooleanField(required=False, allow_null=True, default=None)
    station = serializers.CharField(required=False, help_text="the station's code")
    protocol = serializers.ChoiceField(Protocol.values, required=False)


class PasswordIn(serializers.Serializer):
    password = serializers.CharField(max_length=128, allow_null=True, trim_whitespace=False,
                                     help_text="null: the box need not authenticate")


@listing(BoxFilters, BoxListOut, "Charge boxes, newest first")
class BoxesView(FilteredList):
    serializer_class = BoxListOut
    filters = BoxFilters
    lookups = {"registrationStatus": "registration_status", "station": "station__code", "protocol": "protocol"}
    required_permissions = {"GET": "chargers.view_chargebox"}

    def base_queryset(self):
        return ChargeBox.objects.select_related("station").prefetch_related("connectors")

    def narrow(self, queryset, values):
        # The filter form of ChargeBox.is_online, as the admin's and the status pages' lists use it.
        if values.get("online") is True:
            queryset = queryset.filter(online_q())
        elif values.get("online") is False:
            queryset = queryset.exclude(online_q())
        return queryset


class BoxApproveView(GenericAPIView):
    permission_classes = [HasModelPermission]
    required_permissions = CHANGE_BOX
    serializer_class = BoxListOut

    @extend_schema(request=None, summary="Accept a Pending box",
                   description="Its next BootNotification is answered Accepted; a connected box is asked "
                               "to boot now (TriggerMessage BootNotification).",
                   responses=answers({200: BoxListOut}, not_found=True, conflict="the box is not Pending"))
    def post(self, request, serial: str):
        box = box_or_404(serial)
        if box.registration_status != RegistrationStatus.PENDING:
            return Response({"detail": f"charge box {serial} is {box.registration_status}, not Pending"},
                            status=status.HTTP_409_CONFLICT)
        # As in the admin: a connected box is asked to boot now, so that it learns at once.
        box_accept(box=box, requested_by=request.user, source="api", states=(RegistrationStatus.PENDING,))
        return Response(BoxListOut(ChargeBox.objects.select_related("station").get(pk=box.pk)).data)


class BoxPasswordView(GenericAPIView):
    permission_classes = [HasModelPermission]
    required_permissions = CHANGE_BOX
    serializer_class = PasswordIn
    # DRF's OPTIONS answer looks the object up for a PUT: without these, a 500.
    queryset = ChargeBox.objects.all()
    lookup_field = lookup_url_kwarg = "serial"

    @extend_schema(request=PasswordIn, summary="Set the password a box authenticates with",
                   description="OCPP security profile 1 (Basic auth, user name the serial) and the forward "
                               "REST API; a box already connected stays connected.",
                   responses=answers({204: None}, bad_input=True, not_found=True))
    def put(self, request, serial: str):
        incoming = PasswordIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        box_password_set(box=box_or_404(serial), password=incoming.validated_data["password"] or None)
        return Response(status=status.HTTP_204_NO_CONTENT)
