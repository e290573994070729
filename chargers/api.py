from django.http import Http404
from rest_framework import serializers
from rest_framework.generics import RetrieveAPIView

from chargers.models import ChargeBox, Connector
from chargers.presence import boxes_with_online
from commands.permissions import CanUseCommandApi


class ConnectorOut(serializers.ModelSerializer):
    connectorId = serializers.IntegerField(source="connector_id")
    errorCode = serializers.CharField(source="error_code")
    vendorErrorCode = serializers.CharField(source="vendor_error_code")

    class Meta:
        model = Connector
        fields = ["connectorId", "status", "errorCode", "vendorErrorCode"]


class BoxOut(serializers.ModelSerializer):
    online = serializers.BooleanField(source="is_online")
    lastSeen = serializers.DateTimeField(source="last_seen")
    firmwareVersion = serializers.CharField(source="firmware_version")
    connectors = ConnectorOut(many=True)

    class Meta:
        model = ChargeBox
        fields = ["serial", "online", "lastSeen", "firmwareVersion", "connectors"]


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
