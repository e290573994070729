"""A field engineer on a phone watches a box's status page while the box changes state."""

import time
import urllib.parse
import urllib.request

import orjson
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chargers.choices import Direction, Protocol
from chargers.services import box_touch, connector_status_report, journal_record
from firmware.services import firmware_status_record
from transactions.services import Sample, meter_values_store, transaction_start
from ui_helpers import PHONE, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def box(make_box, make_tag):
    box = make_box("UI-BOX-1", connectors=2, vendor="Keli", model="K7")
    box_touch(box=box, protocol=Protocol.EVCHONG)
    now = timezone.now()
    for connector_id in (0, 1, 2):
        connector_status_report(box=box, connector_id=connector_id, status="Available", error_code="NoError",
                                timestamp=now)
    connector_status_report(box=box, connector_id=2, status="Charging", error_code="NoError", timestamp=now)
    make_tag("CARD-7")
    started = transaction_start(box=box, connector_id=2, id_tag="CARD-7", meter_start_wh=120_000, timestamp=now)
    meter_values_store(box=box, connector_id=2, transaction_id=started.transaction.id, samples=[
        Sample(timestamp=now, value="126.4", measurand="Energy.Active.Import.Register", unit="kWh"),
        Sample(timestamp=now, value="7200", measurand="Power.Active.Import", unit="W"),
        Sample(timestamp=now, value="64", measurand="SoC", unit="Percent"),
    ])
    firmware_status_record(box=box, status="Downloading")
    journal_record(box=box, direction=Direction.IN, protocol=Protocol.EVCHONG, action="heartbeat",
                   payload='{"chargeBoxSerialNumber":"UI-BOX-1"}')
    return box


def status_notify(base_url: str, serial: str, connector_id: int, status: str, error_code: str, vendor_error: str):
    """What the box sends: an EVCHONG statusNotify (EVCHONG 2.7) to the running server."""
    document = {"connectorId": connector_id, "chargeBoxSerialNumber": serial, "status": status,
                "errorCode": error_code, "vendorErrorCode": vendor_error, "vendorId": "Keli",
                "timestamp": int(time.time() * 1000), "transcationId": ""}
    body = urllib.parse.urlencode({"data": orjson.dumps(document).decode()}).encode()
    with urllib.request.urlopen(f"{base_url}/evchong-api/cperent/v1/statusNotify", body, timeout=10) as response:
        assert response.status == 200


def test_status_page_follows_the_box_within_two_seconds(page_as, field_engineer, box, live_server_url):
    page = page_as(field_engineer, viewport=PHONE)
    page.goto("/boxes/UI-BOX-1/")
    connector = page.locator('[data-connector="1"]')
    expect(connector).to_have_attribute("data-status", "Available")
    expect(page.locator('[data-connector="2"] [data-role=power]')).to_have_text("7.2 kW")
    expect(page.locator('[data-connector="2"] [data-role=energy]')).to_have_text("6.40 kWh")
    expect(page.locator("[data-firmware-status]")).to_contain_text("Downloading")

    status_notify(live_server_url, "UI-BOX-1", 1, "Faulted", "GroundFailure", "E-417")
    changed = time.monotonic()
    expect(connector).to_have_attribute("data-status", "Faulted", timeout=2000)
    assert time.monotonic() - changed < 2.0
    expect(connector.locator("[data-role=error]")).to_have_text("GroundFailure")
    expect(connector.locator("[data-role=vendor-error]")).to_contain_text("E-417")
    expect(page.locator("#alarms")).to_contain_text("GroundFailure")
    expect(page.locator("#journal")).to_contain_text("statusNotify")
    screenshot(page, "status-page-phone")
    # Readable on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    status_notify(live_server_url, "UI-BOX-1", 1, "Available", "NoError", "")
    expect(connector).to_have_attribute("data-status", "Available", timeout=2000)
    expect(page.locator("#alarms")).to_contain_text("None.")


def test_box_search_leads_to_the_status_page(page_as, field_engineer, box):
    page = page_as(field_engineer)
    page.fill("input[type=search]", "ui-box")
    page.press("input[type=search]", "Enter")
    page.click("text=UI-BOX-1")
    expect(page.locator("h1")).to_contain_text("UI-BOX-1")
    expect(page.locator("[data-online]")).to_have_attribute("data-online", "yes")
