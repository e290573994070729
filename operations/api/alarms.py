"""Alarms (EVCHONG 2.7): faults and exceptions that boxes reported, open or cleared."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import RetrieveAPIView

from chargers.alarms import open_q
from chargers.api import AlarmOut
from chargers.choices import AlarmLevel
from chargers.models import Alarm
from commands.permissions import HasModelPermission
from operations.api.common import FilteredList, answers, listing

PERMISSIONS = {"GET": "chargers.view_alarm"}


class AlarmFilters(serializers.Serializer):
    box = serializers.CharField(required=False)
    state = serializers.ChoiceField(["open", "cleared"], required=False)
    status = serializers.CharField(required=False, help_text="the connector status reported, as Faulted")
    errorCode = serializers.CharField(required=False)
    level = serializers.ChoiceField(AlarmLevel.values, required=False)
    code = serializers.CharField(required=False, help_text="the box's alarm by name, as OverVoltage")


ALARMS = Alarm.objects.select_related("box")


@listing(AlarmFilters, AlarmOut, "Alarms, newest first")
class AlarmsView(FilteredList):
    serializer_class = AlarmOut
    filters = AlarmFilters
    lookups = {"box": "box__serial", "status": "status", "errorCode": "error_code", "level": "level", "code": "code"}
    required_permissions = PERMISSIONS

    def base_queryset(self):
        return ALARMS.all()

    def narrow(self, queryset, values):
        if "state" in values:
            # Past its time to live is over, swept or not yet (chargers.alarms).
            queryset = queryset.filter(open_q()) if values["state"] == "open" else queryset.exclude(open_q())
        return queryset


@extend_schema(summary="An alarm", responses=answers({200: AlarmOut}, not_found=True))
class AlarmView(RetrieveAPIView):
    permission_classes = [HasModelPermission]
    required_permissions = PERMISSIONS
    serializer_class = AlarmOut
    queryset = ALARMS
