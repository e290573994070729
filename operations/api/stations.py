"""Stations with their boxes and the tariff that applies to them now (a station's own, else the
default: tariffs.services.tariff_for)."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import RetrieveAPIView

from chargers.models import ChargeBox, Station
from commands.permissions import HasModelPermission
from core.api_answers import Present
from operations.api.common import FilteredList, answers, listing
from tariffs.services import tariff_for

PERMISSIONS = {"GET": "chargers.view_station"}


class StationBoxOut(Present, serializers.ModelSerializer):
    online = serializers.BooleanField(source="is_online")
    registrationStatus = serializers.CharField(source="registration_status")

    class Meta:
        model = ChargeBox
        fields = ["serial", "online", "registrationStatus"]


class StationOut(Present, serializers.ModelSerializer):
    boxes = StationBoxOut(many=True)
    tariff = serializers.SerializerMethodField(help_text="code of the tariff that applies now; null: none")

    class Meta:
        model = Station
        fields = ["code", "name", "address", "boxes", "tariff"]

    def get_tariff(self, station) -> str | None:
        tariff = tariff_for(station_id=station.pk, at=timezone.now())
        return tariff.code if tariff else None


class StationFilters(serializers.Serializer):
    code = serializers.CharField(required=False)


STATIONS = Station.objects.prefetch_related(Prefetch("boxes", ChargeBox.objects.order_by("serial")))


@listing(StationFilters, StationOut, "Stations, newest first")
class StationsView(FilteredList):
    serializer_class = StationOut
    filters = StationFilters
    lookups = {"code": "code"}
    required_permissions = PERMISSIONS

    def base_queryset(self):
        return STATIONS.all()


@extend_schema(summary="A station", responses=answers({200: StationOut}, not_found=True))
class StationView(RetrieveAPIView):
    permission_classes = [HasModelPermission]
    required_permissions = PERMISSIONS
    serializer_class = StationOut
    lookup_field = "code"
    queryset = STATIONS

    def get_object(self):
        if "\x00" in self.kwargs["code"]:
            raise Http404("no such station")
        return super().get_object()
