"""CSV exports, fetched from a real daphne: they stream from an async iterator, which is what
ASGI needs to send the first rows before the last are read."""

import csv
import io
import urllib.request
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from staff import PASSWORD
from transactions.services import Sample, meter_values_store, transaction_start, transaction_stop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sessions(make_box, make_tag):
    box = make_box("CB-CSV")
    make_tag("CARD")
    start = timezone.now() - timedelta(hours=2)
    done = transaction_start(box=box, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=start).transaction
    meter_values_store(box=box, connector_id=1, transaction_id=done.id, samples=[
        Sample(timestamp=start + timedelta(seconds=i), value=str(i * 10), measurand="Energy.Active.Import.Register")
        for i in range(5000)
    ])
    transaction_stop(box=box, transaction_id=done.id, meter_stop_wh=50_000, timestamp=start + timedelta(hours=1),
                     reason="EVDisconnected")
    running = transaction_start(box=box, connector_id=2, id_tag="CARD", meter_start_wh=7, timestamp=timezone.now())
    return done, running.transaction


def fetch(base_url, path, user) -> str:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    request = urllib.request.Request(base_url + path, headers={"Cookie": f"sessionid={client.cookies['sessionid'].value}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"] == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        return response.read().decode()


def test_meter_values_of_a_session(live_server_url, operations_user, sessions):
    done, _ = sessions
    rows = list(csv.reader(io.StringIO(fetch(
        live_server_url, reverse("admin:transactions_transaction_metervalues_csv", args=[done.id]), operations_user))))
    assert rows[0] == ["timestamp", "measurand", "value", "unit", "phase", "location", "context", "raw_value",
                       "raw_unit"]
    assert len(rows) == 1 + 5000  # more than one chunk
    assert rows[1][1:4] == ["Energy.Active.Import.Register", "0.0", "Wh"]
    assert rows[-1][2] == "49990.0"


def test_sessions_with_the_lists_filters(live_server_url, operations_user, sessions):
    done, running = sessions
    everything = list(csv.DictReader(io.StringIO(fetch(
        live_server_url, reverse("admin:transactions_transaction_csv"), operations_user))))
    assert [int(r["id"]) for r in everything] == [running.id, done.id]
    ended = list(csv.DictReader(io.StringIO(fetch(
        live_server_url, reverse("admin:transactions_transaction_csv") + "?running=no", operations_user))))
    assert [(r["box"], r["connector"], r["energy_wh"], r["stop_reason"]) for r in ended] == [
        ("CB-CSV", "1", "50000", "EVDisconnected")]


def test_field_engineers_may_export_too_but_not_anonymous_users(live_server_url, field_engineer, sessions):
    assert fetch(live_server_url, reverse("admin:transactions_transaction_csv"), field_engineer).startswith("id,box")
    with urllib.request.urlopen(live_server_url + reverse("admin:transactions_transaction_csv"), timeout=10) as anonymous:
        assert "/admin/login/" in anonymous.url  # redirected to the login page, no data
