from django.db import models
from django.db.models import Q
from django.utils import timezone

from chargers.models import ChargeBox
from smartcharging.choices import ChargingProfileKind, ChargingProfilePurpose, RecurrencyKind


class ChargingProfile(models.Model):
    """A charging profile a box has accepted and holds (OCPP 1.6 §3.13, §5.16): what the box will
    limit itself to, as the central system last told it. Rows come and go only with the box's
    answers (commands.effects) and with the end of the session a TxProfile belongs to."""

    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="charging_profiles")
    connector_id = models.PositiveIntegerField(help_text="0: the whole box")
    charging_profile_id = models.IntegerField()
    transaction_id = models.IntegerField(null=True, blank=True, help_text="TxProfile: the session it belongs to")
    stack_level = models.IntegerField()
    purpose = models.CharField(max_length=25, choices=ChargingProfilePurpose.choices)
    kind = models.CharField(max_length=10, choices=ChargingProfileKind.choices)
    recurrency = models.CharField(max_length=10, choices=RecurrencyKind.choices, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    schedule = models.JSONField(help_text="the chargingSchedule as the box was sent it")
    installed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # Follows the charging_profile_slot index; "box" would join and sort by serial.
        ordering = ["box_id", "connector_id", "purpose", "stack_level"]
        constraints = [
            # What OCPP 1.6 §3.13.2 and §5.16 make the box do, kept true here: a new profile replaces
            # the one with its chargingProfileId, and the one with its stackLevel and purpose on its
            # connector.
            models.UniqueConstraint(fields=["box", "charging_profile_id"], name="charging_profile_id_per_box"),
            models.UniqueConstraint(
                fields=["box", "connector_id", "purpose", "stack_level"], name="charging_profile_slot"
            ),
        ]
        indexes = [
            # Each StopTransaction ends the TxProfiles of its session.
            models.Index(fields=["box", "transaction_id"], name="charging_profile_session",
                         condition=Q(transaction_id__isnull=False)),
        ]

    def __str__(self):
        return f"{self.box_id}#{self.connector_id} {self.purpose} {self.charging_profile_id}/{self.stack_level}"
