"""API tokens, stored as digests only, and the audit trail (append-only)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class Scope(models.TextChoices):
    # What a token may be used for; security.authentication checks it on every request.
    REVERSE = "reverse", "reverse API (/evchong-api/reverse/)"
    OPERATIONS = "operations", "operations API: commands and changes (/api/v1/, not GET)"
    READ = "read", "read API (/api/v1/, GET)"


ALL_SCOPES = [scope.value for scope in Scope]


class ApiToken(models.Model):
    """A credential for the HTTP APIs (`Authorization: Token <token>`). Only the SHA-256 of the token
    is stored: tokens are 160 random bits (or an HMAC under SECRET_KEY, see ``seed``), so a fast hash
    is enough and a database dump reveals no usable token."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="what or who uses it, e.g. the billing backend")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the token, to tell tokens apart in the admin and the logs.
    prefix = models.CharField(max_length=8, editable=False)
    scopes = ArrayField(models.CharField(max_length=20, choices=Scope.choices), default=list)
    # `manage.py apitoken` prints the same token each time it runs (DESIGN 3, idempotent): its token
    # is HMAC(SECRET_KEY, seed), so the database alone holds nothing usable. Empty for tokens made in
    # the admin, which are random and shown once.
    seed = models.CharField(max_length=64, blank=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    expires = models.DateTimeField(null=True, blank=True, help_text="empty: never")
    revoked = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked is None and (self.expires is None or self.expires > now)


class AuditEntry(models.Model):
    """Who did what: a command issued, an id tag, tariff or box changed. Rows are only ever added: the
    admin offers no change or delete, and a database trigger (this app's migration) refuses UPDATE
    and DELETE, so not even a bug or a shell can rewrite history (only TRUNCATE by the owner)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    # Who: a user (kept as text too, so the entry outlives the account), or what ran without one.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                             db_constraint=False, related_name="+")
    actor = models.CharField(max_length=150)
    via = models.CharField(max_length=60, blank=True, help_text="admin, api token name, manage.py command")
    source = models.CharField(max_length=64, blank=True, help_text="client address")
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    summary = models.CharField(max_length=255)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "audit entries"
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-at"], name="audit_object")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.object_type} {self.object_id}"
