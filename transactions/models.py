from django.db import models
from django.db.models import F, Q

from chargers.models import ChargeBox, Connector
from transactions.choices import Reason


class Transaction(models.Model):
    # OCPP and EVCHONG transaction ids are 32-bit integers.
    id = models.AutoField(primary_key=True)
    box = models.ForeignKey(ChargeBox, on_delete=models.PROTECT, related_name="transactions")
    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="transactions")
    id_tag = models.CharField(max_length=20)
    reservation_id = models.IntegerField(null=True, blank=True)
    meter_start_wh = models.BigIntegerField()
    started_at = models.DateTimeField()
    meter_stop_wh = models.BigIntegerField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    stop_id_tag = models.CharField(max_length=20, blank=True)
    # Derived by the database, so it can never disagree with the meter readings.
    energy_wh = models.GeneratedField(
        expression=F("meter_stop_wh") - F("meter_start_wh"),
        output_field=models.BigIntegerField(),
        db_persist=True,
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # The rule that must never break, whatever the code does: one session per connector.
            models.UniqueConstraint(
                fields=["connector"], condition=Q(stopped_at__isnull=True), name="one_active_transaction_per_connector"
            ),
            # Boxes retry StartTransaction; the same start must map to the same row.
            models.UniqueConstraint(fields=["connector", "id_tag", "started_at"], name="transaction_start_once"),
        ]
        indexes = [
            models.Index(fields=["box", "-started_at"], name="transaction_box_recent"),
            models.Index(fields=["started_at"], name="transaction_started"),
            # The dashboard's "energy of sessions ended today" and the admin's "ended" filter.
            models.Index(fields=["stopped_at"], name="transaction_stopped"),
            # Finding a card's sessions (admin search; the ConcurrentTx check at every start).
            models.Index(fields=["id_tag", "-started_at"], name="transaction_id_tag"),
        ]

    def __str__(self):
        return f"#{self.id} {self.box_id}/{self.connector_id} {self.id_tag}"

    @property
    def is_active(self) -> bool:
        return self.stopped_at is None


class MeterValue(models.Model):
    """One sampled value, normalised to canonical units (Wh, varh, W, var, A, V, Celsius, Percent)."""

    # No single-column index on either key: meter_value_once leads with box and
    # meter_value_by_transaction with transaction, and each index more is written for every
    # sampled value (about a tenth of the database's time inserting them, docs/performance.md).
    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="+", db_index=False)
    connector_id = models.PositiveIntegerField()
    transaction = models.ForeignKey(
        Transaction, null=True, blank=True, on_delete=models.CASCADE, related_name="meter_values", db_index=False
    )
    # What the box said the transaction was, even when we do not know it (kept for reconciliation).
    reported_transaction_id = models.IntegerField(null=True, blank=True)
    timestamp = models.DateTimeField()
    measurand = models.CharField(max_length=40)
    phase = models.CharField(max_length=6, blank=True)
    location = models.CharField(max_length=8)
    context = models.CharField(max_length=20)
    format = models.CharField(max_length=10)
    value = models.FloatField(null=True, blank=True, help_text="in unit; empty when the raw value is not a number")
    unit = models.CharField(max_length=10, blank=True)
    raw_value = models.TextField()
    raw_unit = models.CharField(max_length=10, blank=True)
    raw_measurand = models.CharField(max_length=50, blank=True)

    class Meta:
        constraints = [
            # Replays of a MeterValues message add nothing (inserted with ON CONFLICT DO NOTHING).
            models.UniqueConstraint(
                fields=["box", "connector_id", "timestamp", "measurand", "phase", "location", "context"],
                name="meter_value_once",
            ),
        ]
        indexes = [models.Index(fields=["transaction", "timestamp"], name="meter_value_by_transaction")]

    def __str__(self):
        return f"{self.measurand}={self.value}{self.unit}"


class OfflineOrder(models.Model):
    """A finished session a box uploaded after the fact (Kotodian's TransactionReq, "offline
    orders"), under the box's own record number: a replay of the same record after a reconnect
    finds this row and changes nothing (transactions.offline)."""

    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="+")
    record_id = models.CharField(max_length=64, help_text="the box's record number")
    transaction = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="offline_orders")
    received = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["box", "record_id"], name="offline_order_once")]

    def __str__(self):
        return f"{self.box_id} record {self.record_id} -> #{self.transaction_id}"
