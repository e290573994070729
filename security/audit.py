"""The audit trail (security.models.AuditEntry): who changed what. Apps register the models worth
auditing in their AppConfig.ready (``audit_register``); the entry is written in the same transaction
as the change, so a change that rolls back leaves no entry and one that commits always has one.

Who: the user of the request being served (the admin's session, or an API token's user once DRF
authenticated it: DRF sets the Django request's ``user`` and ``auth`` too), as AuditActorMiddleware
remembers it; otherwise the management command or the system itself. Commands are audited by a
database trigger instead (commands/migrations/0002), from their own requested_by and source."""

from __future__ import annotations

import sys
from contextvars import ContextVar

from django.db.models.signals import post_delete, post_save, pre_save

from security.clients import address_of_request
from security.models import ApiToken, AuditEntry

_request: ContextVar = ContextVar("audit_request", default=None)


class AuditActorMiddleware:
    """Remembers the request being served, so that changes made while serving it name its user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def _who() -> tuple[object | None, str, str]:
    """(user or None, via, source address) of whoever is making the change now."""
    request = _request.get()
    if request is not None:
        user = getattr(request, "user", None)
        auth = getattr(request, "auth", None)
        via = f"API token {auth.name} ({auth.prefix}…)" if isinstance(auth, ApiToken) else "web"
        return (user if user is not None and user.is_authenticated else None), via, address_of_request(request)
    if sys.argv and sys.argv[0].endswith("manage.py") and len(sys.argv) > 1:
        return None, f"manage.py {sys.argv[1]}", ""
    return None, "", ""


def audit_record(*, action: str, object_type: str, object_id, summary: str, changes: dict | None = None,
                 user=None, via: str | None = None) -> AuditEntry:
    found_user, found_via, source = _who()
    user = user if user is not None else found_user
    return AuditEntry.objects.create(
        user=user, actor=user.get_username() if user is not None else "system",
        via=(via if via is not None else found_via)[:60], source=source[:64], action=action,
        object_type=object_type, object_id=str(object_id)[:64], summary=summary[:255], changes=changes or {})


def _plain(value):
    # JSON as the admin shows it: dates, decimals and times as their text.
    return value if value is None or isinstance(value, (bool, int, float, str, list, dict)) else str(value)


def audit_register(model, *, fields: list[str], secret: tuple[str, ...] = ()) -> None:
    """Audit ``model``: its creation and deletion, and every save that changes one of ``fields``
    (attnames: ``parent_id`` for a foreign key). The values of ``secret`` fields are never written,
    only that they changed. Rows written in bulk send no signal: their writers record themselves."""
    label = model._meta.label

    def values(instance) -> dict:
        return {name: _plain(getattr(instance, name)) for name in fields}

    def shown(changes: dict) -> dict:
        return {name: (("(changed)" if isinstance(value, list) else "(set)" if value else "") if name in secret
                       else value) for name, value in changes.items()}

    def before_save(sender, instance, raw=False, **kwargs):
        if raw or instance.pk is None:
            return
        instance._audit_before = model._base_manager.filter(pk=instance.pk).values(*fields).first()

    def after_save(sender, instance, created, raw=False, **kwargs):
        if raw:
            return
        now = values(instance)
        if created:
            return audit_record(action="created", object_type=label, object_id=instance.pk,
                                summary=f"{label} {instance} created", changes=shown(now))
        before = getattr(instance, "_audit_before", None)
        if before is None:
            return
        changed = {name: [_plain(before[name]), now[name]] for name in fields if _plain(before[name]) != now[name]}
        if changed:
            audit_record(action="changed", object_type=label, object_id=instance.pk,
                         summary=f"{label} {instance}: {', '.join(changed)} changed",
                         changes=shown(changed))

    def after_delete(sender, instance, **kwargs):
        audit_record(action="deleted", object_type=label, object_id=instance.pk,
                     summary=f"{label} {instance} deleted", changes=shown(values(instance)))

    uid = f"audit-{label}"
    pre_save.connect(before_save, sender=model, weak=False, dispatch_uid=uid)
    post_save.connect(after_save, sender=model, weak=False, dispatch_uid=uid)
    post_delete.connect(after_delete, sender=model, weak=False, dispatch_uid=uid)
