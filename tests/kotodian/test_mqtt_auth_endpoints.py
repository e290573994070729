"""Our HTTP login and topic checks for an external broker, called as mosquitto-go-auth's HTTP
backend and EMQX 5's HTTP authentication/authorization call them (kotodian.views)."""

from __future__ import annotations

import pytest

from kotodian.credentials import box_credentials, registration_credentials, system_credentials

pytestmark = pytest.mark.django_db

BOX = box_credentials("KT-HTTP-1")


def post_json(client, path: str, body: dict):
    return client.post(path, body, content_type="application/json")


# mosquitto-go-auth, http_params_mode json (its default) and form; response mode status or json.

def test_go_auth_user_allows_the_box_s_own_password_only(client):
    body = {"username": BOX.username, "password": BOX.password, "clientid": "KT100-KT-HTTP-1"}
    allowed = post_json(client, "/mqtt/go-auth/user", body)
    assert (allowed.status_code, allowed.json()) == (200, {"ok": True, "error": ""})
    refused = post_json(client, "/mqtt/go-auth/user", {**body, "password": "0" * 32})
    assert refused.status_code == 403 and refused.json()["ok"] is False
    as_form = client.post("/mqtt/go-auth/user", body)  # http_params_mode form
    assert as_form.status_code == 200


def test_go_auth_superuser_is_the_system_alone(client):
    assert post_json(client, "/mqtt/go-auth/superuser", {"username": system_credentials().username}).status_code == 200
    assert post_json(client, "/mqtt/go-auth/superuser", {"username": BOX.username}).status_code == 403


@pytest.mark.parametrize(("topic", "acc", "allowed"), [
    ("/U/C/KT-HTTP-1", 2, True),
    ("/U/M/KT-HTTP-1", 2, True),
    ("/U/C/KT-HTTP-2", 2, False),    # another box's uplink
    ("/D/C/KT-HTTP-2", 2, False),    # posing as the system
    ("/D/C/KT-HTTP-1", 4, True),
    ("/D/C/KT-HTTP-1/#", 4, True),
    ("/D/C/+", 4, False),
    ("/D/C/KT-HTTP-1", 1, True),     # a message delivered on its own topic
    ("/D/C/KT-HTTP-2", 1, False),
    ("/D/C/KT-HTTP-2", 8, True),     # unsubscribing gains nothing
])
def test_go_auth_acl_keeps_a_box_on_its_own_topics(client, topic, acc, allowed):
    response = post_json(client, "/mqtt/go-auth/acl",
                         {"username": BOX.username, "clientid": "KT100-KT-HTTP-1", "topic": topic, "acc": acc})
    assert response.status_code == (200 if allowed else 403)
    assert response.json()["ok"] is allowed


def test_go_auth_bad_requests_name_the_field(client):
    missing = post_json(client, "/mqtt/go-auth/acl", {"username": BOX.username, "topic": "/U/C/KT-HTTP-1", "acc": 2})
    assert (missing.status_code, missing.json()["field"]) == (400, "clientid")
    wrong_acc = post_json(client, "/mqtt/go-auth/acl",
                          {"username": BOX.username, "clientid": "c", "topic": "/U/C/KT-HTTP-1", "acc": "write"})
    assert (wrong_acc.status_code, wrong_acc.json()["field"]) == (400, "acc")
    not_json = client.post("/mqtt/go-auth/user", b"{", content_type="application/json")
    assert not_json.status_code == 400
    assert client.get("/mqtt/go-auth/user").status_code == 405


# EMQX 5: body templates {"username": "${username}", "password": "${password}", "clientid": "${clientid}"}
# and {"username": "${username}", "clientid": "${clientid}", "topic": "${topic}", "action": "${action}"}.

def test_emqx_authn_allows_the_system_as_superuser_and_boxes_with_their_password(client):
    system = system_credentials()
    answer = post_json(client, "/mqtt/emqx/authn",
                       {"username": system.username, "password": system.password, "clientid": "bridge-1"})
    assert answer.json() == {"result": "allow", "is_superuser": True}
    box = post_json(client, "/mqtt/emqx/authn", {"username": BOX.username, "password": BOX.password, "clientid": "x"})
    assert box.json() == {"result": "allow", "is_superuser": False}
    wrong = post_json(client, "/mqtt/emqx/authn", {"username": BOX.username, "password": "", "clientid": "x"})
    assert wrong.json() == {"result": "deny", "is_superuser": False}


@pytest.mark.parametrize(("username", "clientid", "action", "topic", "result"), [
    ("KT-HTTP-1", "KT100-KT-HTTP-1", "publish", "/U/C/KT-HTTP-1", "allow"),
    ("KT-HTTP-1", "KT100-KT-HTTP-1", "publish", "/U/C/KT-HTTP-9", "deny"),
    ("KT-HTTP-1", "KT100-KT-HTTP-1", "subscribe", "/D/M/KT-HTTP-1", "allow"),
    ("KT-HTTP-1", "KT100-KT-HTTP-1", "subscribe", "/D/#", "deny"),
    (registration_credentials().username, "KT100-NEW", "publish", "/U/R/KT100-NEW", "allow"),
    (registration_credentials().username, "KT100-NEW", "subscribe", "/D/R/KT100-OTHER", "deny"),
    (registration_credentials().username, "KT100-NEW", "publish", "/U/C/NEW", "deny"),
])
def test_emqx_authz_keeps_each_account_on_its_own_topics(client, username, clientid, action, topic, result):
    answer = post_json(client, "/mqtt/emqx/authz",
                       {"username": username, "clientid": clientid, "action": action, "topic": topic})
    assert answer.status_code == 200 and answer.json() == {"result": result}


def test_emqx_authz_refuses_an_unknown_action_naming_it(client):
    answer = post_json(client, "/mqtt/emqx/authz",
                       {"username": BOX.username, "clientid": "c", "action": "all", "topic": "/U/C/KT-HTTP-1"})
    assert (answer.status_code, answer.json()["field"]) == (400, "action")


def test_the_command_prints_the_registration_account_and_a_box_s_credentials(make_box):
    from io import StringIO

    from django.core.management import CommandError, call_command

    make_box("KT-CMD-1")
    out = StringIO()
    call_command("kotodianmqtt", "KT-CMD-1", stdout=out)
    registration, box = registration_credentials(), box_credentials("KT-CMD-1")
    assert out.getvalue().splitlines() == [f"registration\t{registration.username}\t{registration.password}",
                                           f"KT-CMD-1\t{box.username}\t{box.password}"]
    with pytest.raises(CommandError, match="no charge box"):
        call_command("kotodianmqtt", "NOBODY", stdout=StringIO())
