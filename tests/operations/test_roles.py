"""Roles: the groups exist after migrate with the permissions they should have, and
command_allowed is the one rule for who may send what."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group

from commands.roles import FIELD_ENGINEER, OPERATIONS, command_allowed
from staff import person

pytestmark = pytest.mark.django_db

FIELD_ENGINEER_MAY = [
    ("GetConfiguration", {}), ("TriggerMessage", {"requestedMessage": "StatusNotification"}),
    ("GetDiagnostics", {"location": "ftp://x/"}), ("UnlockConnector", {"connectorId": 1}), ("Reset", {"type": "Soft"}),
]
FIELD_ENGINEER_MAY_NOT = [
    ("Reset", {"type": "Hard"}), ("RemoteStartTransaction", {"idTag": "CARD"}),
    ("RemoteStopTransaction", {"transactionId": 1}), ("UpdateFirmware", {"location": "x", "retrieveDate": "y"}),
    ("ChangeConfiguration", {"key": "k", "value": "v"}), ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}),
    ("ClearCache", {}), ("SendLocalList", {"listVersion": 1, "updateType": "Full"}),
]


def test_migrations_create_both_groups():
    operations = Group.objects.get(name=OPERATIONS)
    field = Group.objects.get(name=FIELD_ENGINEER)
    granted = {f"{p.content_type.app_label}.{p.codename}" for p in operations.permissions.select_related("content_type")}
    assert {"chargers.change_idtag", "chargers.use_command_api", "operations.send_all_commands",
            "commands.view_command", "transactions.view_metervalue"} <= granted
    assert not any(name.startswith("auth.") for name in granted)  # users stay with superusers
    field_granted = {p.codename for p in field.permissions.all()}
    assert {"view_chargebox", "view_journalentry", "send_diagnostic_commands"} <= field_granted
    assert not {"change_chargebox", "view_idtag", "change_idtag", "send_all_commands", "use_command_api"} & field_granted


@pytest.mark.parametrize(("action", "payload"), FIELD_ENGINEER_MAY)
def test_field_engineer_may_send_diagnostic_commands(field_engineer, action, payload):
    assert command_allowed(field_engineer, action, payload)


@pytest.mark.parametrize(("action", "payload"), FIELD_ENGINEER_MAY_NOT)
def test_field_engineer_may_not_send_other_commands(field_engineer, action, payload):
    assert not command_allowed(field_engineer, action, payload)


@pytest.mark.parametrize(("action", "payload"), FIELD_ENGINEER_MAY + FIELD_ENGINEER_MAY_NOT)
def test_operations_may_send_everything(operations_user, action, payload):
    assert command_allowed(operations_user, action, payload)


def test_nobody_else_may_send_anything():
    plain = person("paul", None)
    assert not command_allowed(plain, "GetConfiguration", {})
    assert not command_allowed(AnonymousUser(), "GetConfiguration", {})
    inactive = person("ivy", OPERATIONS)
    inactive.is_active = False
    assert not command_allowed(inactive, "Reset", {"type": "Soft"})


def test_api_token_users_may_send_everything():
    from io import StringIO

    from django.contrib.auth.models import User
    from django.core.management import call_command

    call_command("apitoken", "backend", stdout=StringIO())
    assert command_allowed(User.objects.get(username="backend"), "RemoteStartTransaction", {"idTag": "CARD"})
