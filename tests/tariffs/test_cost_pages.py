"""Where a cost shows besides the read API: the tariff editor (checks and the day bar), a session's
admin page and the session CSV export, the box status page (the running session's cost so far) and
the dashboard (revenue today)."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from tariffs.admin import day_bar
from tariffs.models import Tariff
from tariffs.periods import period_parse
from transactions.services import Sample, meter_values_store, transaction_start, transaction_stop

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_box, make_tag):
    box = make_box("CB-COST", station="ST-COST")
    make_tag("CARD")
    call_command("addtariff", "FLAT", "--period", "00:00-00:00=1.2+0.3", "--station", "ST-COST",
                 stdout=io.StringIO())
    return box


def signed_in(client, user):
    client.force_login(user)
    return client


def editor_form(**changes):
    data = {
        "code": "NEW", "name": "", "currency": "CNY", "valid_from_0": "", "valid_from_1": "", "idle_grace_minutes": "0",
        "idle_fee_per_hour": "", "periods-TOTAL_FORMS": "2", "periods-INITIAL_FORMS": "0",
        "periods-MIN_NUM_FORMS": "0", "periods-MAX_NUM_FORMS": "1000",
        "periods-0-start": "22:00", "periods-0-end": "06:00", "periods-0-energy_price": "0.3",
        "periods-0-service_price": "0.4",
        "periods-1-start": "06:00", "periods-1-end": "22:00", "periods-1-energy_price": "0.9",
        "periods-1-service_price": "0.4",
    }
    return {**data, **changes}


def test_the_tariff_editor_saves_a_tariff_that_covers_the_day(client, world, operations_user):
    signed_in(client, operations_user)
    response = client.post(reverse("admin:tariffs_tariff_add"), editor_form())
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Tariff.objects.get(code="NEW").periods.count() == 2


@pytest.mark.parametrize(("changes", "problem"), [
    ({"periods-1-start": "05:00"}, "periods: 05:00-22:00 overlaps 22:00-06:00 (at 05:00)"),
    ({"periods-1-end": "21:00"}, "periods: no period covers 21:00-22:00"),
    ({"periods-0-energy_price": "0.12345"}, "Ensure that there are no more than 4 decimal places."),
    ({"periods-0-service_price": "-1"}, "Ensure this value is greater than or equal to 0."),
])
def test_the_tariff_editor_refuses_bad_periods_and_prices(client, world, operations_user, changes, problem):
    signed_in(client, operations_user)
    response = client.post(reverse("admin:tariffs_tariff_add"), editor_form(**changes))
    assert response.status_code == 200
    assert problem in response.content.decode()
    assert not Tariff.objects.filter(code="NEW").exists()


def test_the_editor_draws_the_day_as_a_bar_of_coloured_periods(client, world, operations_user):
    bar = day_bar([period_parse("06:00-22:00=0.9+0.4"), period_parse("22:00-06:00=0.3+0.4")], "CNY")
    # The wrapped valley is drawn at both ends of the day, the cheapest green, the dearest red.
    assert bar.count('class="tariff-period"') == 3
    assert 'left:0.000%;width:25.000%;background:hsl(120, 65%, 50%)' in bar
    assert 'left:25.000%;width:66.667%;background:hsl(0, 65%, 50%)' in bar
    assert 'left:91.667%;width:8.333%;background:hsl(120, 65%, 50%)' in bar
    signed_in(client, operations_user)
    page = client.get(reverse("admin:tariffs_tariff_change", args=[Tariff.objects.get(code="FLAT").pk]))
    assert 'class="tariff-day"' in page.content.decode()
    assert 'title="00:00-00:00: 1.2000 + 0.3000 = 1.5000 CNY/kWh"' in page.content.decode()


def stopped_session(box):
    # Ended today in local time, whenever the test runs.
    start = timezone.localtime().replace(hour=0, minute=1, second=0, microsecond=0)
    tx = transaction_start(box=box, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=start).transaction
    transaction_stop(box=box, transaction_id=tx.pk, meter_stop_wh=2000, timestamp=start + timedelta(minutes=30))
    return tx


def test_a_session_page_shows_its_cost_lines_and_the_export_its_cost(client, world, operations_user):
    tx = stopped_session(world)
    signed_in(client, operations_user)
    page = client.get(reverse("admin:transactions_transaction_change", args=[tx.pk])).content.decode()
    assert 'class="session-cost"' in page and "<strong>3.00 CNY</strong>" in page and "2,000" in page
    listing = client.get(reverse("admin:transactions_transaction_changelist")).content.decode()
    assert "3.00 CNY" in listing


@pytest.mark.django_db(transaction=True)
def test_the_session_export_carries_the_cost(live_server_url, world, operations_user):
    import urllib.request

    from django.test import Client

    stopped_session(world)
    client = Client()
    client.force_login(operations_user)
    request = urllib.request.Request(live_server_url + reverse("admin:transactions_transaction_csv"),
                                     headers={"Cookie": f"sessionid={client.cookies['sessionid'].value}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        rows = list(csv.DictReader(io.StringIO(response.read().decode())))
    assert [(r["currency"], r["cost_energy"], r["cost_service"], r["cost_idle"], r["cost_total"]) for r in rows] == [
        ("CNY", "2.40", "0.60", "0.00", "3.00")]


def test_the_box_page_shows_the_running_session_s_cost_so_far(client, world, field_engineer):
    start = timezone.now() - timedelta(hours=1)
    tx = transaction_start(box=world, connector_id=1, id_tag="CARD", meter_start_wh=1000, timestamp=start).transaction
    meter_values_store(box=world, connector_id=1, transaction_id=tx.pk, samples=[
        Sample(timestamp=start + timedelta(minutes=30), value="3.5", unit="kWh")])
    signed_in(client, field_engineer)
    page = client.get(reverse("status:box-live", args=["CB-COST"])).content.decode()
    # 2500 Wh so far at 1.2 + 0.3 per kWh
    assert '<dd data-role="cost">3.75 CNY</dd>' in page


def test_the_dashboard_shows_the_revenue_of_sessions_ended_today(client, world, field_engineer):
    stopped_session(world)
    signed_in(client, field_engineer)
    page = client.get(reverse("status:dashboard-live")).content.decode()
    assert '<strong data-count="revenue">3.00 CNY</strong>' in page
