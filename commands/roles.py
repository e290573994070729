"""Who may do what. Two groups (created by this app's data migration) and the one rule that says
which user may send which Central-System command; the admin, the status pages and the command APIs
all ask ``command_allowed``."""

from __future__ import annotations

from django.db.models import Q

OPERATIONS = "Operations"
FIELD_ENGINEER = "Field engineer"

# Operations may do everything in the project's own apps (users and tokens stay with superusers).
OPERATIONS_APPS = ["chargers", "transactions", "tariffs", "smartcharging", "firmware", "commands", "webhooks",
                   "operations"]

# Field engineers look (boxes, their sessions, messages, faults, firmware, commands, what holds a
# connector back: reservations and charging profiles) and diagnose; id tags and local lists name
# drivers and stay with Operations.
FIELD_ENGINEER_PERMISSIONS = [
    "chargers.view_station", "chargers.view_chargebox", "chargers.view_connector", "chargers.view_alarm",
    "chargers.view_journalentry", "chargers.view_reservation", "chargers.view_configurationkey",
    "transactions.view_transaction",
    "transactions.view_metervalue", "smartcharging.view_chargingprofile",
    "firmware.view_firmwarestatusevent", "firmware.view_diagnosticsstatusevent", "firmware.view_diagnosticsupload",
    "commands.view_command",
    "operations.send_diagnostic_commands",
]

# What a field engineer may send: calls that read, or that a box recovers from by itself.
DIAGNOSTIC_ACTIONS = frozenset({"GetConfiguration", "TriggerMessage", "GetDiagnostics", "UnlockConnector",
                                # Kotodian's reads: logs, and the box's records of sessions and alarms.
                                "GetLog", "GetTransactions", "GetWarning"})
SOFT_RESET = ("Reset", "Soft")


def may_send_all(user) -> bool:
    # use_command_api is what `manage.py apitoken` grants: DESIGN 3 gives its tokens every command.
    return user.has_perm("operations.send_all_commands") or user.has_perm("chargers.use_command_api")


def command_is_diagnostic(action: str, payload: dict | None) -> bool:
    if action in DIAGNOSTIC_ACTIONS:
        return True
    return (action, (payload or {}).get("type")) == SOFT_RESET


def command_allowed(user, action: str, payload: dict | None) -> bool:
    """May ``user`` send ``action`` with ``payload`` to a charge box?"""
    if user is None or not user.is_active:
        return False
    if may_send_all(user):
        return True
    return user.has_perm("operations.send_diagnostic_commands") and command_is_diagnostic(action, payload)


def actions_offered(user, actions) -> list[str]:
    """The actions worth showing ``user`` a form for (a Reset form may still refuse a hard reset)."""
    if user is None or not user.is_active:
        return []
    if may_send_all(user):
        return sorted(actions)
    if not user.has_perm("operations.send_diagnostic_commands"):
        return []
    return sorted(a for a in actions if a in DIAGNOSTIC_ACTIONS or a == SOFT_RESET[0])


def roles_grant(apps, using: str = "default") -> None:
    """Create both groups if missing and add the permissions they should have. Only adds, so
    permissions an operator gave a group by hand stay; safe to run any number of times."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    operations, _ = Group.objects.using(using).get_or_create(name=OPERATIONS)
    field_engineer, _ = Group.objects.using(using).get_or_create(name=FIELD_ENGINEER)
    operations.permissions.add(*Permission.objects.using(using).filter(content_type__app_label__in=OPERATIONS_APPS))
    wanted = Q(pk__in=[])
    for name in FIELD_ENGINEER_PERMISSIONS:
        app_label, codename = name.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    field_engineer.permissions.add(*Permission.objects.using(using).filter(wanted))


def roles_grant_after_migrate(sender, apps=None, using="default", **kwargs) -> None:
    # Permissions are created after all migrations ran (and again after a flush, which empties the
    # tables and sends post_migrate without an ``apps``), so the groups get them here; every app's
    # post_migrate runs it, and the last run sees every permission.
    if apps is None:
        from django.apps import apps
    try:
        apps.get_model("auth", "Group")
        apps.get_model("contenttypes", "ContentType")
    except LookupError:
        return
    roles_grant(apps, using)
