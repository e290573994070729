"""Alarms (EVCHONG 2.7): faults and exceptions that boxes reported, open or cleared."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import RetrieveAPIView

from chargers.models import Alarm
from commands.permissions import HasModelPermission
from operations.api.common import FilteredList, Present, answers, listing

PERMISSIONS = {"GET": "chargers.view_alarm"}


class AlarmOut(Present, serializers.ModelSerializer):
    """A new column of Alarm is one entry here (and one in ``AlarmFilters``/``LOOKUPS`` to filter on it)."""

    box = serializers.CharField(source="box.serial")
    connectorId = serializers.IntegerField(source="connector_id")
    transactionId = serializers.IntegerField(source="transaction_id", allow_null=True)
    errorCode = serializers.CharField(source="error_code")
    vendorErrorCode = serializers.CharField(source="vendor_error_code")
    notifyUser = serializers.BooleanField(source="notify_user")
    notifyOperations = serializers.BooleanField(source="notify_operations")
    cleared = serializers.DateTimeField(allow_null=True, help_text="null: still open")
    open = serializers.SerializerMethodField()

    class Meta:
        model = Alarm
        fields = ["id", "box", "connectorId", "transactionId", "status", "errorCode", "vendorErrorCode", "info",
                  "notifyUser", "notifyOperations", "raised", "cleared", "open"]

    def get_open(self, alarm) -> bool:
        return alarm.cleared is None


class AlarmFilters(serializers.Serializer):
    box = serializers.CharField(required=False)
    state = serializers.ChoiceField(["open", "cleared"], required=False)
    status = serializers.CharField(required=False, help_text="the connector status reported, as Faulted")
    errorCode = serializers.CharField(required=False)


ALARMS = Alarm.objects.select_related("box")


@listing(AlarmFilters, AlarmOut, "Alarms, newest first")
class AlarmsView(FilteredList):
    serializer_class = AlarmOut
    filters = AlarmFilters
    lookups = {"box": "box__serial", "status": "status", "errorCode": "error_code"}
    required_permissions = PERMISSIONS

    def base_queryset(self):
        return ALARMS.all()

    def narrow(self, queryset, values):
        if "state" in values:
            queryset = queryset.filter(cleared__isnull=values["state"] == "open")
        return queryset


@extend_schema(summary="An alarm", responses=answers({200: AlarmOut}, not_found=True))
class AlarmView(RetrieveAPIView):
    permission_classes = [HasModelPermission]
    required_permissions = PERMISSIONS
    serializer_class = AlarmOut
    queryset = ALARMS
