"""Every admin page an operator opens on day one renders."""

import pytest
from django.urls import reverse

from transactions.services import Sample, meter_values_store, transaction_start

PAGES = ["chargers_station", "chargers_chargebox", "chargers_idtag", "chargers_journalentry",
         "chargers_alarm", "transactions_transaction", "transactions_metervalue", "firmware_firmwarestatusevent"]


@pytest.fixture
def session(make_box, make_tag):
    from django.utils import timezone

    box = make_box("CB-ADMIN", connectors=2)
    make_tag("CARD")
    started = transaction_start(box=box, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=timezone.now())
    meter_values_store(box=box, connector_id=1, transaction_id=started.transaction.id,
                       samples=[Sample(timestamp=timezone.now(), value="230", measurand="Voltage", unit="V")])
    return started.transaction


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_changelists_render(admin_client, session, page):
    app, model = page.split("_", 1)
    assert admin_client.get(reverse(f"admin:{app}_{model}_changelist")).status_code == 200


@pytest.mark.django_db
def test_box_and_transaction_pages_render(admin_client, session):
    assert admin_client.get(reverse("admin:chargers_chargebox_change", args=[session.box_id])).status_code == 200
    response = admin_client.get(reverse("admin:transactions_transaction_change", args=[session.id]))
    assert response.status_code == 200
    assert b"Voltage" in response.content


@pytest.mark.django_db
def test_box_search_by_serial(admin_client, session):
    response = admin_client.get(reverse("admin:chargers_chargebox_changelist"), {"q": "CB-ADM"})
    assert b"CB-ADMIN" in response.content
