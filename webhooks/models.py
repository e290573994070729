import secrets

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models

from webhooks.addresses import endpoint_url_problem


class EventType(models.TextChoices):
    SESSION_STARTED = "session.started", "session started"
    SESSION_STOPPED = "session.stopped", "session stopped (energy and cost)"
    BOX_ONLINE = "box.online", "box online"
    BOX_OFFLINE = "box.offline", "box offline"
    FAULT_RAISED = "fault.raised", "fault raised"
    FAULT_CLEARED = "fault.cleared", "fault cleared"
    # EVCHONG 2.7: an alarm whose notify_user / notify_operations flag is set.
    NOTIFY_USER = "notify.user", "notify the user (EVCHONG 2.7)"
    NOTIFY_OPERATIONS = "notify.operations", "notify operations (EVCHONG 2.7)"
    COMMAND_FINISHED = "command.finished", "command finished"
    FIRMWARE_STATUS = "firmware.status", "firmware update state"
    IDTAG_UNKNOWN = "idtag.unknown", "id tag unknown"
    # Only sent on request (the admin's action, POST /api/v1/webhooks/{id}/test).
    TEST = "test", "test event"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class Endpoint(models.Model):
    """A URL that wants some event types, and the secret its deliveries are signed with."""

    url = models.URLField(max_length=500, help_text="https:// (http:// only to WEBHOOK_INSECURE_HOSTS)")
    events = ArrayField(models.CharField(max_length=30, choices=EventType.choices), default=list, blank=True,
                        help_text="the event types sent here; empty: all")
    secret = models.CharField(max_length=100, default=new_secret, help_text="the HMAC-SHA256 key of the signatures")
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.url

    def clean(self):
        if self.url and (problem := endpoint_url_problem(self.url)):
            raise ValidationError({"url": problem})

    def wants(self, event_type: str) -> bool:
        return event_type == EventType.TEST or not self.events or event_type in self.events


class DeliveryState(models.TextChoices):
    PENDING = "pending"  # not sent yet, or waiting to be retried
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # refused (4xx), or every attempt failed


class Delivery(models.Model):
    """One event for one endpoint, with what its attempts got. The event's id is in the body, the
    same on every attempt, so that a receiver can drop a retry it has already seen."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=30, choices=EventType.choices)
    body = models.TextField(help_text="the JSON sent, byte for byte what the signature covers")
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True, help_text="of the last attempt")
    latency_ms = models.PositiveIntegerField(null=True, blank=True, help_text="of the last attempt")
    error = models.CharField(max_length=300, blank=True, help_text="of the last attempt")
    created = models.DateTimeField(auto_now_add=True)
    last_attempt = models.DateTimeField(null=True, blank=True)
    delivered = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-id"]
        indexes = [models.Index(fields=["endpoint", "-id"], name="delivery_endpoint_newest")]

    def __str__(self):
        return f"{self.event_type} → {self.endpoint_id} ({self.state})"
