from django.conf import settings
from django.db import models
from django.db.models import Q

from chargers.models import ChargeBox, Connector


class CommandState(models.TextChoices):
    QUEUED = "queued"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


OPEN_STATES = [CommandState.QUEUED, CommandState.SENT]


class Command(models.Model):
    """A Central-System-initiated OCPP call to one box: who asked, what, and what became of it."""

    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="commands")
    action = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=CommandState.choices, default=CommandState.QUEUED)
    response = models.JSONField(null=True, blank=True, help_text="the box's answer payload")
    error_code = models.CharField(max_length=40, blank=True)
    error_description = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=20, blank=True, help_text="reverse-api, operations-api, admin")
    # A remote start claims its connector until the box's StartTransaction arrives or this passes.
    connector = models.ForeignKey(Connector, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    claim_until = models.DateTimeField(null=True, blank=True)
    transaction_id = models.IntegerField(
        null=True, blank=True,
        help_text="the session a remote stop is for, or the session a remote start became once the box started it",
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["box", "-id"], name="command_box_recent"),
            models.Index(fields=["state", "created"], name="command_open", condition=Q(state__in=OPEN_STATES)),
            models.Index(fields=["connector"], name="command_claims", condition=Q(claim_until__isnull=False)),
            # Claims found by box: remote starts that let the box pick the connector, remote stops in
            # flight; looked up at every session start and stop, and few (they last a minute).
            models.Index(fields=["box"], name="command_box_claims", condition=Q(claim_until__isnull=False)),
        ]

    def __str__(self):
        return f"#{self.pk} {self.action} → {self.box_id} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES
