"""Guessing passwords and tokens, from outside, over real sockets: the WebSocket upgrade of a box
with security profile 1, the forward API's Basic credentials, the admin login and API tokens. The
guesser is refused (429 with Retry-After before the upgrade, the login form's error); the box itself,
from its own address, still gets in."""

from __future__ import annotations

import re

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests_security_kit import ATTACKER, BOX_ADDRESS, Http, basic

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "s3cret-box-password-16"


def upgrade(base_url: str, serial: str, authorization: str | None, source: str):
    """The HTTP status of a WebSocket upgrade (101 when it succeeded), and the refusal's headers."""
    headers = {"Authorization": authorization} if authorization else {}
    try:
        with connect(base_url.replace("http", "ws") + f"/ocpp/{serial}", subprotocols=["ocpp1.6"],
                     additional_headers=headers, source_address=(source, 0), open_timeout=10):
            return 101, {}
    except InvalidStatus as refused:
        return refused.response.status_code, refused.response.headers  # case-insensitive


def test_guessing_a_box_password_at_the_upgrade_locks_out_the_guesser_not_the_box(limited_server, make_box):
    make_box("BF-WS-1", password=PASSWORD)
    for _ in range(5):
        assert upgrade(limited_server, "BF-WS-1", basic("BF-WS-1", "guess"), ATTACKER)[0] == 401
    status, headers = upgrade(limited_server, "BF-WS-1", basic("BF-WS-1", "guess"), ATTACKER)
    assert status == 429 and 0 < int(headers["Retry-After"]) <= 300
    # Even the right password is refused from the guesser's address while it is locked out ...
    assert upgrade(limited_server, "BF-WS-1", basic("BF-WS-1", PASSWORD), ATTACKER)[0] == 429
    # ... while the box, from its own address, comes in, again and again.
    for _ in range(3):
        assert upgrade(limited_server, "BF-WS-1", basic("BF-WS-1", PASSWORD), BOX_ADDRESS)[0] == 101


def test_a_box_that_failed_a_few_times_and_then_succeeds_starts_again_from_zero(limited_server, make_box):
    make_box("BF-WS-2", password=PASSWORD)
    for _ in range(4):
        assert upgrade(limited_server, "BF-WS-2", basic("BF-WS-2", "old-password"), BOX_ADDRESS)[0] == 401
    assert upgrade(limited_server, "BF-WS-2", basic("BF-WS-2", PASSWORD), BOX_ADDRESS)[0] == 101
    for _ in range(4):  # the count was cleared: four more failures are still not a lock-out
        assert upgrade(limited_server, "BF-WS-2", basic("BF-WS-2", "old-password"), BOX_ADDRESS)[0] == 401
    assert upgrade(limited_server, "BF-WS-2", basic("BF-WS-2", PASSWORD), BOX_ADDRESS)[0] == 101


def test_one_address_guessing_many_boxes_is_locked_out_for_all(limited_server, make_box):
    for n in range(13):
        make_box(f"BF-MANY-{n}", password=PASSWORD)
    statuses = [upgrade(limited_server, f"BF-MANY-{n}", basic(f"BF-MANY-{n}", "guess"), ATTACKER)[0]
                for n in range(13)]
    assert statuses == [401] * 12 + [429]  # BRUTE_FORCE_SOURCE_FAILURES=12 on this server
    assert upgrade(limited_server, "BF-MANY-0", basic("BF-MANY-0", PASSWORD), BOX_ADDRESS)[0] == 101


HEARTBEAT = {"chargeBoxSerialNumber": "BF-REST-1"}


def test_guessing_a_box_password_on_the_forward_api(limited_server, make_box):
    make_box("BF-REST-1", password=PASSWORD)
    attacker, box = Http(limited_server, ATTACKER), Http(limited_server, BOX_ADDRESS)
    path = "/evchong-api/cperent/v1/heartbeat"
    for _ in range(5):
        status, _, body = attacker.json("POST", path, HEARTBEAT, {"Authorization": basic("BF-REST-1", "guess")})
        assert status == 401 and body["field"] == "Authorization"
    status, headers, body = attacker.json("POST", path, HEARTBEAT, {"Authorization": basic("BF-REST-1", PASSWORD)})
    assert status == 429 and int(headers["Retry-After"]) > 0
    assert body["error"] == "too many requests" and "failed logins" in body["problem"]
    status, _, body = box.json("POST", path, HEARTBEAT, {"Authorization": basic("BF-REST-1", PASSWORD)})
    assert status == 200 and "currentTime" in str(body)


def csrf_of(page: bytes) -> str:
    return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()


def admin_login(client: Http, username: str, password: str) -> tuple[int, bytes]:
    status, headers, page = client.request("GET", "/admin/login/")
    cookie = headers["Set-Cookie"].split(";")[0]
    form = f"username={username}&password={password}&csrfmiddlewaretoken={csrf_of(page)}&next=/admin/"
    status, _, page = client.request("POST", "/admin/login/?next=/admin/", form, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, "Referer": "http://127.0.0.1/"})
    return status, page


def test_guessing_an_admin_password_locks_out_the_guesser_not_the_admin(limited_server, transactional_db):
    from django.contrib.auth.models import User

    User.objects.create_superuser("root", password="the-right-one")
    attacker, admin = Http(limited_server, ATTACKER), Http(limited_server, BOX_ADDRESS)
    for _ in range(5):
        status, page = admin_login(attacker, "root", "wrong")
        assert status == 200 and b"Please enter the correct username and password" in page
    status, page = admin_login(attacker, "root", "the-right-one")
    assert status == 200 and b"Too many failed logins from your address" in page
    status, _ = admin_login(admin, "root", "the-right-one")
    assert status == 302  # logged in, from elsewhere


def test_guessing_api_tokens_is_answered_429(limited_server, make_box):
    make_box("BF-TK-1")
    attacker = Http(limited_server, ATTACKER)
    statuses = [attacker.json("GET", "/api/v1/boxes/BF-TK-1", headers={"Authorization": f"Token guess{n}"})[0]
                for n in range(13)]
    assert statuses == [401] * 12 + [429]
    status, headers, _ = attacker.json("GET", "/api/v1/boxes/BF-TK-1", headers={"Authorization": "Token guess"})
    assert status == 429 and int(headers["Retry-After"]) > 0


def test_the_status_pages_login_is_guarded_too(client, transactional_db):
    from django.contrib.auth.models import User

    User.objects.create_user("fred", password="the-right-one")
    for _ in range(5):
        page = client.post("/login/", {"username": "fred", "password": "wrong"})
        assert page.status_code == 200 and b"Too many failed logins" not in page.content
    page = client.post("/login/", {"username": "fred", "password": "the-right-one"})
    assert page.status_code == 200 and b"Too many failed logins from your address" in page.content
    elsewhere = client.post("/login/", {"username": "fred", "password": "the-right-one"}, REMOTE_ADDR="10.0.0.9")
    assert elsewhere.status_code == 302
