"""The tariff editor and a session's cost in a real browser: the day drawn as a bar of coloured
periods across the full width, the cost lines beside the session's charts."""

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tariffs.models import Tariff
from transactions.services import Sample, meter_values_store, transaction_start, transaction_stop
from ui_helpers import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_tariff_editor_draws_the_day_and_a_session_shows_its_cost(page_as, operations_user, make_box,
                                                                        make_tag):
    box = make_box("CB-TARIFF", station="ST-T")
    make_tag("CARD")
    call_command("addtariff", "TOU-1", "--station", "ST-T", "--period", "22:00-06:00=0.3+0.4",
                 "--period", "06:00-10:00=0.85+0.4", "--period", "10:00-15:00=1.2+0.5",
                 "--period", "15:00-18:00=0.85+0.4", "--period", "18:00-22:00=1.2+0.5", stdout=io.StringIO())
    page = page_as(operations_user)
    page.goto(f"/admin/tariffs/tariff/{Tariff.objects.get(code='TOU-1').pk}/change/")
    bar = page.locator(".tariff-day")
    expect(bar.locator(".tariff-period")).to_have_count(6)  # the wrapped valley at both ends
    whole = bar.bounding_box()
    widths = [p.bounding_box()["width"] for p in bar.locator(".tariff-period").all()]
    assert abs(sum(widths) - whole["width"]) < 4  # the periods fill the day, no gap, no overlap
    assert abs(widths[0] / whole["width"] - 6 / 24) < 0.01
    screenshot(page, "admin-tariff-editor")

    start = datetime(2026, 4, 1, 21, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    tx = transaction_start(box=box, connector_id=1, id_tag="CARD", meter_start_wh=0, timestamp=start).transaction
    meter_values_store(box=box, connector_id=1, transaction_id=tx.pk, samples=[
        Sample(timestamp=start + timedelta(minutes=m), value=str(m * 120), measurand="Energy.Active.Import.Register")
        for m in range(5, 120, 5)])
    transaction_stop(box=box, transaction_id=tx.pk, meter_stop_wh=14400, timestamp=start + timedelta(hours=2))
    # 21:00-22:00 7200 Wh at 1.2+0.5, 22:00-23:00 7200 Wh at 0.3+0.4
    wide = page_as(operations_user, viewport={"width": 1680, "height": 1000})
    wide.goto(f"/admin/transactions/transaction/{tx.pk}/change/")
    cost = wide.locator("table.session-cost")
    expect(cost.locator("tbody tr")).to_have_count(2)
    expect(cost.locator("tbody tr").first).to_contain_text("04-01 21:00 – 22:00")
    expect(cost.locator("tfoot")).to_contain_text("17.28 CNY")
    # Beside the charts on a wide screen.
    charts = wide.locator(".session-charts").bounding_box()
    table = cost.bounding_box()
    assert table["x"] >= charts["x"] + charts["width"] and abs(table["y"] - charts["y"]) < 60
    page = wide
    screenshot(page, "admin-session-cost")
