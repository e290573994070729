"""The tariffs in the operations API (GET/POST /api/v1/tariffs, GET/PUT /api/v1/tariffs/{code},
PUT /api/v1/stations/{code}/tariff) and a session's cost as the transaction read API shows it
(DESIGN.md §3). Bad input is HTTP 400 naming the field, as tariffs.services words it."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from commands.permissions import CanUseCommandApi
from core.errors import DomainError
from tariffs.models import Tariff
from tariffs.moments import local_moment
from tariffs.periods import Period, clock, minute_parse, price_parse
from tariffs.services import TariffInput, station_tariff_assign, tariff_save


class IsoMoment(serializers.DateTimeField):
    """A moment stored as ISO 8601 text, shown like every other time of the API."""

    def to_representation(self, value):
        return super().to_representation(datetime.fromisoformat(value))


# "from" is a Python keyword: the class is built from a dict of its fields.
CostLineOut = type("CostLineOut", (serializers.Serializer,), {
    "from": IsoMoment(), "to": IsoMoment(), "energyWh": serializers.IntegerField(),
    "energyPrice": serializers.CharField(), "servicePrice": serializers.CharField(),
    "energyCost": serializers.CharField(), "serviceCost": serializers.CharField(),
    "__doc__": "One period's part of a session: energy rounded to the Wh, costs from the exact energy.",
})


class SessionCostOut(serializers.Serializer):
    currency = serializers.CharField()
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    energy = serializers.DecimalField(max_digits=14, decimal_places=2)
    service = serializers.DecimalField(max_digits=14, decimal_places=2)
    idle = serializers.DecimalField(max_digits=14, decimal_places=2)
    lines = CostLineOut(many=True)
    boxReported = serializers.DecimalField(source="box_reported", max_digits=14, decimal_places=2, allow_null=True)


# Prices as text or numbers: checked by tariffs.periods.price_parse (>= 0, at most 4 decimals).
PeriodIO = type("PeriodIO", (serializers.Serializer,), {
    "from": serializers.CharField(source="start", help_text="HH:MM, local time (TIME_ZONE)"),
    "to": serializers.CharField(source="end", help_text="HH:MM; at or before from: the period wraps midnight"),
    "energyPrice": serializers.CharField(help_text="per kWh, up to 4 decimals"),
    "servicePrice": serializers.CharField(help_text="per kWh, up to 4 decimals"),
    "__doc__": "A time-of-use period; the periods of a tariff cover the day once.",
})


class TariffIO(serializers.Serializer):
    code = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    currency = serializers.CharField(required=False, default="CNY")
    validFrom = serializers.CharField(required=False, allow_null=True, default=None,
                                      help_text="ISO 8601 date or date-time (local time without a zone); "
                                                "null: valid since ever")
    default = serializers.BooleanField(required=False, default=False)
    stations = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    idleFeePerHour = serializers.CharField(required=False, allow_null=True, default=None)
    idleGraceMinutes = serializers.IntegerField(required=False, default=0)
    periods = PeriodIO(many=True)


def tariff_out(tariff: Tariff) -> dict:
    return {
        "code": tariff.code, "name": tariff.name, "currency": tariff.currency,
        "validFrom": serializers.DateTimeField().to_representation(tariff.valid_from) if tariff.valid_from else None,
        "default": tariff.is_default, "stations": sorted(s.code for s in tariff.stations.all()),
        "idleFeePerHour": str(tariff.idle_fee_per_hour) if tariff.idle_fee_per_hour is not None else None,
        "idleGraceMinutes": tariff.idle_grace_minutes,
        "periods": [{"from": clock(p.start), "to": clock(p.end), "energyPrice": str(p.energy_price),
                     "servicePrice": str(p.service_price)} for p in tariff.period_values()],
    }


def tariff_in(data: dict) -> TariffInput:
    """The checked input as the service takes it; DomainError naming the field otherwise."""
    periods = []
    for n, period in enumerate(data["periods"]):
        field = f"periods[{n}]"
        periods.append(Period(
            minute_parse(period["start"], field=f"{field}.from"),
            minute_parse(period["end"], field=f"{field}.to", end=True),
            price_parse(period["energyPrice"], field=f"{field}.energyPrice"),
            price_parse(period["servicePrice"], field=f"{field}.servicePrice"),
        ))
    fee = data["idleFeePerHour"]
    return TariffInput(
        code=data["code"], name=data["name"], currency=data["currency"], periods=periods,
        valid_from=local_moment(data["validFrom"], field="validFrom") if data["validFrom"] else None,
        station_codes=tuple(data["stations"]), is_default=data["default"],
        idle_fee_per_hour=price_parse(fee, field="idleFeePerHour") if fee is not None else None,
        idle_grace_minutes=data["idleGraceMinutes"],
    )


def _saved(data: dict, *, created_status: int) -> Response:
    try:
        tariff, created = tariff_save(data=tariff_in(data))
    except DomainError as exc:
        raise serializers.ValidationError({exc.field or "tariff": [exc.message]}) from None
    return Response(tariff_out(tariff), status=created_status if created else status.HTTP_200_OK)


class CanEditTariffs(BasePermission):
    """Reading: whoever may use the operations API. Changing: apitoken's tokens and Operations."""

    message = "this user may not change tariffs"

    def has_permission(self, request, view):
        if not CanUseCommandApi().has_permission(request, view):
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return request.user.has_perm("tariffs.change_tariff") or request.user.has_perm("chargers.use_command_api")


def _tariffs():
    return Tariff.objects.prefetch_related("periods", "stations")


class TariffsView(APIView):
    permission_classes = [CanEditTariffs]

    @extend_schema(responses=TariffIO(many=True), summary="Every tariff")
    def get(self, request):
        return Response([tariff_out(t) for t in _tariffs()])

    @extend_schema(request=TariffIO, responses={201: TariffIO}, summary="Create a tariff (400 if its code is taken)")
    def post(self, request):
        body = TariffIO(data=request.data)
        body.is_valid(raise_exception=True)
        if Tariff.objects.filter(code=body.validated_data["code"]).exists():
            raise serializers.ValidationError({"code": ["a tariff with this code exists; PUT replaces it"]})
        return _saved(body.validated_data, created_status=status.HTTP_201_CREATED)


class TariffView(APIView):
    permission_classes = [CanEditTariffs]

    @extend_schema(responses=TariffIO, summary="A tariff")
    def get(self, request, code):
        return Response(tariff_out(get_object_or_404(_tariffs(), code=code)))

    @extend_schema(request=TariffIO, responses={200: TariffIO, 201: TariffIO},
                   summary="Create or replace a tariff whole (the body's code must be the URL's)")
    def put(self, request, code):
        if not isinstance(request.data, dict):  # a JSON array or string: DRF's 400 names the body
            raise serializers.ValidationError({"non_field_errors": ["the body must be a JSON object (a tariff)"]})
        body = TariffIO(data={**request.data, "code": request.data.get("code", code)})
        body.is_valid(raise_exception=True)
        if body.validated_data["code"] != code:
            raise serializers.ValidationError({"code": [f"the body names {body.validated_data['code']!r}, "
                                                        f"the URL {code!r}"]})
        return _saved(body.validated_data, created_status=status.HTTP_201_CREATED)


class StationTariffIn(serializers.Serializer):
    tariff = serializers.CharField(help_text="the code of the tariff for this station's boxes")


class StationTariffView(APIView):
    """A station's tariff: it takes the station from the tariff that had it with the same validity."""

    permission_classes = [CanEditTariffs]

    @extend_schema(request=StationTariffIn, responses=TariffIO, summary="Assign a tariff to a station")
    def put(self, request, code):
        body = StationTariffIn(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            tariff = Tariff.objects.select_for_update().filter(code=body.validated_data["tariff"]).first()
            if tariff is None:
                raise serializers.ValidationError({"tariff": [f"there is no tariff {body.validated_data['tariff']!r}"]})
            try:
                tariff = station_tariff_assign(station_code=code, tariff=tariff)
            except DomainError as exc:
                raise serializers.ValidationError({exc.field or "tariff": [exc.message]}) from None
        return Response(tariff_out(_tariffs().get(pk=tariff.pk)))
