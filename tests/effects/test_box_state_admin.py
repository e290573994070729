"""The admin for what boxes hold at our request: readable, never edited by hand; a ReserveNow sent
from the box's page gets our own reservation id."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chargers.models import LocalAuthList, Reservation
from commands.models import Command
from staff import PASSWORD

pytestmark = pytest.mark.django_db

ACCEPTED = {"status": "Accepted"}
PAGES = ["chargers_reservation", "chargers_localauthlist", "chargers_localauthlistentry",
         "smartcharging_chargingprofile"]


@pytest.fixture
def held(box, send):
    """One of each: a reservation, a local list with an entry, a charging profile."""
    send(box, "ReserveNow", {"connectorId": 1, "expiryDate": (timezone.now() + timedelta(hours=1)).isoformat(),
                             "idTag": "HOLDER"}, ACCEPTED)
    send(box, "SendLocalList", {"listVersion": 3, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "04A2B3C4", "idTagInfo": {"status": "Accepted"}}]}, ACCEPTED)
    send(box, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {
        "chargingProfileId": 7, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}}},
        ACCEPTED)


def logged_in(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.mark.parametrize("page", PAGES)
def test_lists_and_rows_are_readable_without_counting_the_table(client, operations_user, held, page):
    logged_in(client, operations_user)
    app, model = page.split("_", 1)
    with CaptureQueriesContext(connection) as queries:
        listing = client.get(reverse(f"admin:{app}_{model}_changelist"))
    assert listing.status_code == 200
    rows = listing.context["cl"].result_list
    assert len(rows) == 1
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper() and f'"{page}"' in q["sql"]]
    assert all("LIMIT" in sql for sql in counts), counts
    change = client.get(reverse(f"admin:{app}_{model}_change", args=[rows[0].pk]))
    assert change.status_code == 200
    assert not change.context["has_change_permission"] and not change.context["has_delete_permission"]
    assert client.get(reverse(f"admin:{app}_{model}_add")).status_code == 403


def test_a_list_links_to_its_entries_and_they_are_searchable(client, operations_user, box, held):
    logged_in(client, operations_user)
    page = client.get(reverse("admin:chargers_localauthlist_changelist")).content.decode()
    entries_url = reverse("admin:chargers_localauthlistentry_changelist") + f"?auth_list={box.pk}"
    assert entries_url in page
    assert [e.id_tag for e in client.get(entries_url).context["cl"].result_list] == ["04A2B3C4"]
    found = client.get(reverse("admin:chargers_localauthlistentry_changelist"), {"q": "FX-1"})
    assert [e.id_tag for e in found.context["cl"].result_list] == ["04A2B3C4"]
    assert LocalAuthList.objects.get(box=box).version == 3


def test_field_engineers_see_reservations_and_profiles_but_not_local_lists(client, field_engineer, held):
    logged_in(client, field_engineer)
    assert client.get(reverse("admin:chargers_reservation_changelist")).status_code == 200
    assert client.get(reverse("admin:smartcharging_chargingprofile_changelist")).status_code == 200
    assert client.get(reverse("admin:chargers_localauthlist_changelist")).status_code == 403
    assert client.get(reverse("admin:chargers_localauthlistentry_changelist")).status_code == 403


def test_reserve_now_from_the_box_page_without_an_id_gets_ours(client, operations_user, box, monkeypatch):
    # No box answers here: the page need not wait its usual seconds for one.
    monkeypatch.setattr("operations.command_views.ANSWER_WAIT_SECONDS", 0.2)
    logged_in(client, operations_user)
    send = reverse("admin:chargers_chargebox_command_send", args=[box.pk, "ReserveNow"])
    response = client.post(send, {"connectorId": "1", "expiryDate": "2027-01-01T10:00", "idTag": "HOLDER"})
    assert response.status_code == 302
    command = Command.objects.get(action="ReserveNow")
    reservation = Reservation.objects.get()
    assert command.payload["reservationId"] == reservation.pk and command.source == "admin"
    assert (reservation.state, reservation.id_tag, reservation.connector_id) == ("requested", "HOLDER", 1)
