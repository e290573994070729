"""API tokens: stored as digests, with scopes and an expiry, revocable; `Authorization: Token` on
every API, as the default authentication of REST_FRAMEWORK."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from security.authentication import ApiTokenAuthentication
from security.models import ApiToken, Scope
from security.tokens import token_create, token_digest, token_revoke
from staff import token_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def nothing_remembered(monkeypatch):
    monkeypatch.setattr(ApiTokenAuthentication, "_remembered", {})


@pytest.fixture
def backend():
    user = User.objects.create(username="backend-app")
    user.user_permissions.add(Permission.objects.get(codename="use_command_api"))
    return user


def get_box(token: str, serial="TK-BOX"):
    return Client(HTTP_AUTHORIZATION=f"Token {token}").get(f"/api/v1/boxes/{serial}")


def reset(token: str, serial="TK-BOX"):
    return Client(HTTP_AUTHORIZATION=f"Token {token}").post(
        "/evchong-api/reverse/v1/Reset", {"chargeBoxSerialNumber": serial, "type": "Soft"},
        content_type="application/json")


def test_only_the_digest_is_stored(backend):
    row, token = token_create(user=backend, name="billing", scopes=[Scope.READ])
    assert len(token) == 40 and token.isalnum()
    assert ApiToken.objects.filter(digest=token_digest(token)).exists()
    assert not ApiToken.objects.filter(digest=token).exists() and row.prefix == token[:8]


def test_an_expired_token_is_refused(backend, make_box):
    make_box("TK-BOX")
    token = token_for(backend, expires=timezone.now() + timedelta(seconds=60))
    assert get_box(token).status_code == 200
    ApiToken.objects.filter(digest=token_digest(token)).update(expires=timezone.now() - timedelta(seconds=1))
    ApiTokenAuthentication._remembered.clear()
    response = get_box(token)
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_a_remembered_token_that_expires_is_refused_at_once(backend, make_box, settings):
    make_box("TK-BOX")
    settings.API_TOKEN_CACHE_SECONDS = 600
    token = token_for(backend, expires=timezone.now() + timedelta(seconds=60))
    assert get_box(token).status_code == 200
    # Time passes: the expiry is behind us, for the remembered row as for the stored one.
    past = timezone.now() - timedelta(seconds=1)
    ApiTokenAuthentication._remembered[token_digest(token)][1][1].expires = past
    ApiToken.objects.filter(digest=token_digest(token)).update(expires=past)
    assert get_box(token).status_code == 401


def test_a_revoked_token_is_refused(backend, make_box):
    make_box("TK-BOX")
    token = token_for(backend)
    assert get_box(token).status_code == 200
    token_revoke(token=ApiToken.objects.get(digest=token_digest(token)))
    ApiTokenAuthentication._remembered.clear()  # API_TOKEN_CACHE_SECONDS have passed
    assert get_box(token).status_code == 401
    assert reset(token).status_code == 401


def test_scopes_decide_what_a_token_may_do(backend, make_box):
    make_box("TK-BOX")
    read_only = token_for(backend, scopes=[Scope.READ])
    assert get_box(read_only).status_code == 200
    response = Client(HTTP_AUTHORIZATION=f"Token {read_only}").post(
        "/api/v1/boxes/TK-BOX/commands", {"action": "Reset", "payload": {"type": "Soft"}}, content_type="application/json")
    assert response.status_code == 403 and "operations" in response.json()["detail"]
    answer = reset(read_only)
    assert answer.status_code == 403 and "reverse" in answer.json()["message"]
    reverse_only = token_for(backend, scopes=[Scope.REVERSE])
    assert get_box(reverse_only).status_code == 403
    assert reset(reverse_only).status_code == 200  # Rejected: the box is not connected, but allowed


def test_apitoken_tokens_have_every_scope_and_survive_in_the_same_form(make_box):
    import io

    from django.core.management import call_command

    make_box("TK-BOX")
    out = io.StringIO()
    call_command("apitoken", "cli-user", stdout=out)
    token = out.getvalue().strip()
    assert sorted(ApiToken.objects.get(digest=token_digest(token)).scopes) == sorted(s.value for s in Scope)
    assert get_box(token).status_code == 200 and reset(token).status_code == 200
    # Revoked: the next run prints a new token, and the old one stays refused.
    token_revoke(token=ApiToken.objects.get(digest=token_digest(token)))
    out = io.StringIO()
    call_command("apitoken", "cli-user", stdout=out)
    assert out.getvalue().strip() != token


def test_the_admin_shows_a_new_token_once_and_revokes(admin_client, backend, make_box):
    make_box("TK-BOX")
    response = admin_client.post("/admin/security/apitoken/add/", {
        "user": backend.pk, "name": "dashboard", "scopes": ["read"], "expires_0": "", "expires_1": ""}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    token = next(m.rsplit(" ", 1)[-1] for m in shown if "shown this once" in m)
    row = ApiToken.objects.get(name="dashboard")
    assert row.digest == token_digest(token) and row.scopes == ["read"]
    assert get_box(token).status_code == 200
    assert token.encode() not in admin_client.get(f"/admin/security/apitoken/{row.pk}/change/").content
    admin_client.post("/admin/security/apitoken/", {"action": "revoke", "_selected_action": [row.pk]})
    ApiTokenAuthentication._remembered.clear()
    assert get_box(token).status_code == 401
