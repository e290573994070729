from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.exceptions import NotFound

from chargers.models import ChargeBox

from commands.permissions import CanUseCommandApi
from core.pagination import NewestFirst
from tariffs.api import SessionCostOut
from transactions.models import MeterValue, Transaction


class MeterValueOut(serializers.ModelSerializer):
    class Meta:
        model = MeterValue
        fields = ["timestamp", "measurand", "value", "unit", "phase", "location", "context"]


class TransactionOut(serializers.ModelSerializer):
    box = serializers.CharField(source="box.serial")
    connectorId = serializers.IntegerField(source="connector.connector_id")
    idTag = serializers.CharField(source="id_tag")
    meterStartWh = serializers.IntegerField(source="meter_start_wh")
    # Null while the session runs.
    meterStopWh = serializers.IntegerField(source="meter_stop_wh", allow_null=True)
    energyWh = serializers.IntegerField(source="energy_wh", allow_null=True)
    startedAt = serializers.DateTimeField(source="started_at")
    stoppedAt = serializers.DateTimeField(source="stopped_at", allow_null=True)
    stopReason = serializers.CharField(source="stop_reason")
    meterValues = serializers.SerializerMethodField()
    # Set when the session stops; null without a tariff (DESIGN.md §3).
    cost = SessionCostOut(read_only=True, allow_null=True)

    class Meta:
        model = Transaction
        fields = ["id", "box", "connectorId", "idTag", "meterStartWh", "meterStopWh", "energyWh", "startedAt",
                  "stoppedAt", "stopReason", "meterValues", "cost"]

    def get_meterValues(self, tx) -> list[dict]:
        return MeterValueOut(tx.meter_values.order_by("timestamp", "id"), many=True).data


class TransactionView(RetrieveAPIView):
    """A session with its meter values in canonical units (Wh, W, A, V, Celsius, Percent)."""

    permission_classes = [CanUseCommandApi]
    serializer_class = TransactionOut
    queryset = Transaction.objects.select_related("box", "connector", "cost")


class SessionOut(TransactionOut):
    """A session in a list: as ``TransactionOut``, without its meter values."""

    class Meta(TransactionOut.Meta):
        fields = [name for name in TransactionOut.Meta.fields if name != "meterValues"]


class BoxTransactionsView(ListAPIView):
    """A box's sessions, newest first."""

    permission_classes = [CanUseCommandApi]
    serializer_class = SessionOut
    pagination_class = NewestFirst

    def get_queryset(self):
        serial = self.kwargs["serial"]
        # A NUL (%00 in the URL) is in no serial, and PostgreSQL refuses it in a query.
        box = ChargeBox.objects.filter(serial=serial).first() if "\x00" not in serial else None
        if box is None:
            raise NotFound(f"unknown charge box {serial}")
        return Transaction.objects.filter(box=box).select_related("box", "connector", "cost")
