"""DJANGO_ENV=production: refuses what only suits a developer's machine, passes `check --deploy`, and
serves as a deployment behind a TLS proxy must (deploy/nginx.conf): HSTS and secure cookies over TLS,
plain HTTP redirected, except what charge boxes speak."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests_security_kit import Http

ROOT = Path(__file__).resolve().parents[2]
KEY = secrets.token_urlsafe(60)
PRODUCTION = {"DJANGO_ENV": "production", "SECRET_KEY": KEY, "ALLOWED_HOSTS": "127.0.0.1,cs.example.com",
              "CSRF_TRUSTED_ORIGINS": "https://cs.example.com", "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}


def manage(env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_check_deploy_is_clean(server_env):
    checked = manage({**server_env, **PRODUCTION}, "check", "--deploy", "--fail-level", "WARNING")
    assert checked.returncode == 0, checked.stderr
    assert "no issues" in checked.stdout


@pytest.mark.parametrize("change, complaint", [
    ({"SECRET_KEY": None}, "SECRET_KEY"),
    ({"SECRET_KEY": "dev-only-insecure-key-change-me-in-production"}, "SECRET_KEY"),
    ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
    ({"ALLOWED_HOSTS": "cs.example.com,*"}, "ALLOWED_HOSTS"),
    ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
    ({"DEBUG": "1"}, "DEBUG"),
])
def test_production_refuses_to_start_with_development_settings(server_env, change, complaint):
    env = {**server_env, **PRODUCTION, **{k: v for k, v in change.items() if v is not None}}
    for name in (k for k, v in change.items() if v is None):
        env.pop(name, None)
    refused = manage(env, "check")
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr and complaint in refused.stderr


@pytest.fixture(scope="module")
def production_server(start_daphne) -> str:
    return start_daphne(**PRODUCTION)


@pytest.mark.django_db(transaction=True)
def test_over_tls_hsts_and_secure_cookies_plain_http_redirected(production_server):
    client = Http(production_server)
    status, headers, _ = client.request("GET", "/admin/login/")
    assert status == 301 and headers["Location"].startswith("https://")
    status, headers, _ = client.request("GET", "/admin/login/", headers={"X-Forwarded-Proto": "https"})
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "Secure" in headers["Set-Cookie"] and "csrftoken" in headers["Set-Cookie"]


@pytest.mark.django_db(transaction=True)
def test_what_boxes_speak_is_not_redirected(production_server, make_box):
    make_box("PROD-1")
    client = Http(production_server)
    assert client.request("GET", "/healthz")[0] == 200
    status, _, answer = client.json("POST", "/evchong-api/cperent/v1/heartbeat", {"chargeBoxSerialNumber": "PROD-1"})
    assert status == 200 and "currentTime" in answer
    with connect(production_server.replace("http", "ws") + "/ocpp/PROD-1", subprotocols=["ocpp1.6"]) as box:
        assert box.subprotocol == "ocpp1.6"
