from django.http import Http404
from django.utils import timezone
from rest_framework import serializers
from rest_framework.generics import RetrieveAPIView

from chargers.models import Alarm, ChargeBox, Connector
from chargers.presence import boxes_with_online
from chargers.services import box_by_serial
from commands.permissions import CanUseCommandApi
from core.api_answers import Present


class ConnectorOut(serializers.ModelSerializer):
    connectorId = serializers.IntegerField(source="connector_id")
    errorCode = serializers.CharField(source="error_code")
    vendorErrorCode = serializers.CharField(source="vendor_error_code")

    class Meta:
        model = Connector
        fields = ["connectorId", "status", "errorCode", "vendorErrorCode"]


class BoxOut(serializers.ModelSerializer):
    online = serializers.BooleanField(source="is_online")
    lastSeen = serializers.DateTimeField(source="last_seen", allow_null=True)
    firmwareVersion = serializers.CharField(source="firmware_version")
    connectors = ConnectorOut(many=True)

    class Meta:
        model = ChargeBox
        # protocol: "ocpp1.6", "evchong" or "kotodian" (chargers.choices.Protocol); "" before the first boot.
        fields = ["serial", "online", "lastSeen", "firmwareVersion", "protocol", "connectors"]


class BoxView(RetrieveAPIView):
    """A box's live state."""

    permission_classes = [CanUseCommandApi]
    serializer_class = BoxOut
    lookup_field = "serial"

    def get_queryset(self):
        return boxes_with_online(ChargeBox.objects.prefetch_related("connectors"))

    def get_object(self):
        # PostgreSQL cannot even compare a text containing NUL: no such box, rather than a 500.
        if "\x00" in self.kwargs["serial"]:
            raise Http404("no such charge box")
        return super().get_object()


class AlarmOut(Present, serializers.ModelSerializer):
    """A new column of Alarm is one entry here (and one in operations.api.alarms to filter on it)."""

    box = serializers.CharField(source="box.serial")
    connectorId = serializers.IntegerField(source="connector_id")
    transactionId = serializers.IntegerField(source="transaction_id", allow_null=True)
    errorCode = serializers.CharField(source="error_code")
    vendorErrorCode = serializers.CharField(source="vendor_error_code")
    notifyUser = serializers.BooleanField(source="notify_user")
    notifyOperations = serializers.BooleanField(source="notify_operations")
    cleared = serializers.DateTimeField(allow_null=True, help_text="null: not cleared (see open and expires)")
    expires = serializers.DateTimeField(allow_null=True, help_text="the box's time to live ends; null: until cleared")
    level = serializers.CharField(help_text="critical, alert, warning, notice or info; empty for a status report's")
    code = serializers.CharField(help_text="the box's alarm by name (Kotodian Warnings); empty for a status report's")
    open = serializers.SerializerMethodField()

    class Meta:
        model = Alarm
        fields = ["id", "box", "connectorId", "transactionId", "status", "errorCode", "vendorErrorCode", "info",
                  "level", "code", "component", "notifyUser", "notifyOperations", "raised", "cleared", "expires",
                  "open"]

    def get_open(self, alarm) -> bool:
        return alarm.cleared is None and (alarm.expires is None or alarm.expires > timezone.now())


def box_or_404(serial: str) -> ChargeBox:
    """The box an API path names, or 404. A NUL (%00 in the URL) is in no serial, and PostgreSQL
    refuses it in a query (a 500 before)."""
    box = box_by_serial(serial) if "\x00" not in serial else None
    if box is None:
        raise Http404(f"unknown charge box {serial}")
    return box
