"""People for tests of pages and permissions: users in the groups that the operations app's data
migration creates. Import the fixtures into a folder's conftest.py to use them."""

from __future__ import annotations

import pytest

PASSWORD = "correct horse battery staple"


def person(username: str, group: str | None, *, staff: bool = True):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username, password=PASSWORD, is_staff=staff)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def operations_user(db):
    from commands.roles import OPERATIONS

    return person("olga", OPERATIONS)


@pytest.fixture
def field_engineer(db):
    from commands.roles import FIELD_ENGINEER

    return person("fred", FIELD_ENGINEER)


@pytest.fixture
def backend_token(db) -> str:
    """What `manage.py apitoken backend` prints: a token allowed to use the reverse and operations APIs."""
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("apitoken", "backend", stdout=out)
    return out.getvalue().strip()


def token_for(user, scopes=None, **options) -> str:
    """An API token for ``user`` (every scope unless told), as the admin makes one."""
    from security.models import ALL_SCOPES
    from security.tokens import token_create

    return token_create(user=user, name="test", scopes=ALL_SCOPES if scopes is None else scopes, **options)[1]


def token_revoke_all(token: str) -> None:
    from security.models import ApiToken
    from security.tokens import token_digest

    ApiToken.objects.filter(digest=token_digest(token)).delete()
