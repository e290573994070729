from rest_framework import serializers
from rest_framework.generics import RetrieveAPIView

from commands.permissions import CanUseCommandApi
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
    meterStopWh = serializers.IntegerField(source="meter_stop_wh")
    energyWh = serializers.IntegerField(source="energy_wh")
    startedAt = serializers.DateTimeField(source="started_at")
    stoppedAt = serializers.DateTimeField(source="stopped_at")
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
