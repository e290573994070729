"""The audit trail: who issued which command, changed which id tag, tariff or box (approval,
password), through what; readable in the admin; append-only down to the database."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.test import Client

from chargers.models import ChargeBox, IdTag
from security.models import AuditEntry

pytestmark = pytest.mark.django_db


def entries(object_type: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(object_type=object_type).order_by("id"))


def test_an_id_tag_changed_in_the_admin_names_the_admin(admin_client, admin_user, make_tag):
    tag = make_tag("CARD-A")
    response = admin_client.post(f"/admin/chargers/idtag/{tag.pk}/change/", {
        "id_tag": "CARD-A", "status": "Blocked", "expiry_0": "", "expiry_1": "", "parent": "", "note": "lost"})
    assert response.status_code == 302
    changed = entries("chargers.IdTag")[-1]
    assert (changed.action, changed.actor, changed.user_id, changed.via) == ("changed", "admin", admin_user.pk, "web")
    assert changed.changes == {"status": ["Accepted", "Blocked"], "note": ["", "lost"]}
    assert changed.source == "127.0.0.1" and changed.object_id == str(tag.pk)


def test_a_box_approved_in_the_admin(admin_client):
    box = ChargeBox.objects.create(serial="AU-PENDING", registration_status="Pending")
    response = admin_client.post(f"/admin/chargers/chargebox/{box.pk}/change/", {
        "serial": "AU-PENDING", "station": "", "registration_status": "Accepted", "heartbeat_interval": "",
        "vendor": "", "model": "", "charge_point_serial": "", "firmware_version": "", "iccid": "", "imsi": "",
        "meter_type": "", "meter_serial": "", "connectors-TOTAL_FORMS": "0", "connectors-INITIAL_FORMS": "0",
        "connectors-MIN_NUM_FORMS": "0", "connectors-MAX_NUM_FORMS": "1000",
        # The configuration inventory's inline (read-only, but a formset all the same).
        "configuration-TOTAL_FORMS": "0", "configuration-INITIAL_FORMS": "0",
        "configuration-MIN_NUM_FORMS": "0", "configuration-MAX_NUM_FORMS": "0"})
    assert response.status_code == 302, response.content[:2000]
    approval = entries("chargers.ChargeBox")[-1]
    assert approval.actor == "admin" and approval.changes == {"registration_status": ["Pending", "Accepted"]}


def test_a_password_change_is_recorded_without_the_password(make_box):
    box = make_box("AU-PW")
    call_command("addbox", "AU-PW", "--password", "new-secret-123456", stdout=io.StringIO())
    changed = entries("chargers.ChargeBox")[-1]
    assert changed.object_id == str(box.pk) and changed.changes == {"password_hash": "(changed)"}
    assert "new-secret" not in str(changed.changes) and "pbkdf2" not in str(changed.changes)


def test_a_command_issued_through_the_api_names_its_token_user(make_connected_box, backend_token):
    make_connected_box("AU-CMD")
    response = Client(HTTP_AUTHORIZATION=f"Token {backend_token}").post(
        "/api/v1/boxes/AU-CMD/commands", {"action": "Reset", "payload": {"type": "Soft"}, "wait": False},
        content_type="application/json")
    assert response.status_code == 202
    issued = entries("commands.Command")[-1]
    assert (issued.action, issued.actor, issued.via) == ("created", "backend", "operations-api")
    assert issued.changes["action"] == "Reset" and issued.changes["payload"] == {"type": "Soft"}


def test_a_tariff_set_through_the_api(backend_token, make_box):
    body = {"code": "AU-TOU", "periods": [{"from": "00:00", "to": "24:00", "energyPrice": 1, "servicePrice": 0.5}]}
    response = Client(HTTP_AUTHORIZATION=f"Token {backend_token}").post("/api/v1/tariffs", body,
                                                                        content_type="application/json")
    assert response.status_code == 201, response.json()
    created, periods = [e for e in entries("tariffs.Tariff") if e.action in ("created", "periods set")]
    assert created.actor == periods.actor == "backend"
    assert created.via.startswith("API token manage.py apitoken")
    assert periods.changes == {"periods": ["00:00-00:00 1.0000+0.5000"], "stations": []}


def test_the_trail_is_append_only_in_the_database(make_tag):
    make_tag("CARD-B")
    entry = entries("chargers.IdTag")[-1]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(summary="nothing happened")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).summary == entry.summary


def test_the_admin_shows_the_trail_and_offers_no_change(admin_client, make_tag):
    make_tag("CARD-C")
    entry = entries("chargers.IdTag")[-1]
    listing = admin_client.get("/admin/security/auditentry/")
    assert listing.status_code == 200 and b"CARD-C" in listing.content
    assert admin_client.get("/admin/security/auditentry/add/").status_code == 403
    assert admin_client.post(f"/admin/security/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert IdTag.objects.filter(id_tag="CARD-C").exists() and AuditEntry.objects.filter(pk=entry.pk).exists()
