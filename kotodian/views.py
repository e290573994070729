"""Login and topic checks for an external MQTT broker (MQTT_URL), over HTTP, in the formats of the
two auth plugins that call out to a web service (docs/adr/0021; README "External broker"):

- mosquitto-go-auth's HTTP backend (``auth_opt_backends http``): ``/mqtt/go-auth/user``,
  ``/superuser``, ``/acl``; JSON (``http_params_mode json``) or a form; the answer is 200 with
  ``{"ok": true, "error": ""}`` or 403 with ``{"ok": false, "error": ...}``, which both its
  ``status`` and ``json`` response modes read;
- EMQX 5's HTTP authentication and authorization: ``/mqtt/emqx/authn`` and ``/mqtt/emqx/authz``,
  200 with ``{"result": "allow" | "deny"}`` (and ``is_superuser`` at login).

The rules are kotodian.mqttaccess's, the same as the private broker's. A request that lacks a field
gets 400 naming it; both brokers take any answer but a 2xx as "not allowed" or "no opinion", so set
their chains to deny what no one allowed (the README's examples do)."""

from __future__ import annotations

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from kotodian.credentials import access_allowed, login_allowed
from kotodian.mqttaccess import PUBLISH, SUBSCRIBE, SYSTEM, kind_of


class FieldMissing(Exception):
    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


def params(request, *names: str) -> dict[str, str]:
    """The request's fields, from a JSON body or a form, each a string."""
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise FieldMissing(names[0])
    else:
        body = request.POST
    found = {}
    for name in names:
        value = body.get(name)
        if value is None or isinstance(value, (dict, list)):
            raise FieldMissing(name)
        found[name] = str(value)
    return found


def mqtt_auth_view(check):
    """A POST endpoint of ours for a broker: its fields read, 400 naming the one missing."""
    @csrf_exempt
    @require_POST
    def view(request):
        try:
            return check(request)
        except FieldMissing as exc:
            return JsonResponse({"error": f"{exc.field} is required", "field": exc.field}, status=400)
    return view


def go_auth_answer(allowed: bool, refusal: str) -> JsonResponse:
    return JsonResponse({"ok": allowed, "error": "" if allowed else refusal}, status=200 if allowed else 403)


# mosquitto's access kinds as go-auth passes them on in acc: MOSQ_ACL_READ 1 (a message about to be
# delivered: what the account may subscribe to), MOSQ_ACL_WRITE 2 (a publish), MOSQ_ACL_SUBSCRIBE 4,
# MOSQ_ACL_UNSUBSCRIBE 8 (always allowed: leaving a topic gains nothing).
GO_AUTH_ACTIONS = {1: [SUBSCRIBE], 2: [PUBLISH], 4: [SUBSCRIBE], 8: []}


@mqtt_auth_view
def go_auth_user(request):
    found = params(request, "username", "password")
    return go_auth_answer(login_allowed(found["username"], found["password"]), "wrong username or password")


@mqtt_auth_view
def go_auth_superuser(request):
    found = params(request, "username")
    return go_auth_answer(kind_of(found["username"]) == SYSTEM, "not a superuser")


@mqtt_auth_view
def go_auth_acl(request):
    found = params(request, "username", "clientid", "topic", "acc")
    try:
        actions = GO_AUTH_ACTIONS[int(found["acc"])]
    except (ValueError, KeyError):
        return JsonResponse({"error": "acc must be 1, 2, 4 or 8", "field": "acc"}, status=400)
    allowed = all(access_allowed(found["username"], found["clientid"], action, found["topic"]) for action in actions)
    return go_auth_answer(allowed, "not this account's topic")


def emqx_answer(allowed: bool, **more) -> JsonResponse:
    return JsonResponse({"result": "allow" if allowed else "deny", **more})


@mqtt_auth_view
def emqx_authn(request):
    found = params(request, "username", "password")
    allowed = login_allowed(found["username"], found["password"])
    return emqx_answer(allowed, is_superuser=allowed and kind_of(found["username"]) == SYSTEM)


@mqtt_auth_view
def emqx_authz(request):
    found = params(request, "username", "clientid", "topic", "action")
    if found["action"] not in (PUBLISH, SUBSCRIBE):  # EMQX's ${action}: our two words exactly
        return JsonResponse({"error": "action must be publish or subscribe", "field": "action"}, status=400)
    return emqx_answer(access_allowed(found["username"], found["clientid"], found["action"], found["topic"]))
