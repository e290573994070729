"""Operations and field engineers in the admin, in a real browser: sending a Reset to a box on a
real OCPP 1.6J WebSocket (delivered by a real Celery worker), and what a field engineer may not do."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chargers.choices import Protocol
from chargers.models import IdTag
from chargers.services import box_touch, connector_status_report
from commands.models import Command
from simbox import SimBox
from transactions.services import Sample, meter_values_store, transaction_start, transaction_stop
from ui_helpers import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def network(make_box, make_tag):
    """A few boxes in different states, as the box list shows them."""
    now = timezone.now()
    states = {"CB-0001": ["Charging", "Available"], "CB-0002": ["Faulted", "Available"],
              "CB-0003": ["Available", "Available"], "CB-0004": ["Unavailable", "Preparing"]}
    for serial, statuses in states.items():
        box = make_box(serial, connectors=2, vendor="Keli", model="K7", station="ST-01")
        if serial != "CB-0003":
            box_touch(box=box, protocol=Protocol.EVCHONG)
        for connector_id, status in enumerate(statuses, start=1):
            error = "GroundFailure" if status == "Faulted" else "NoError"
            connector_status_report(box=box, connector_id=connector_id, status=status, error_code=error, timestamp=now)
    make_tag("CARD-1")


def test_box_list_shows_the_network_at_a_glance(page_as, operations_user, network):
    page = page_as(operations_user)
    page.goto("/admin/chargers/chargebox/")
    faulted = page.locator("#result_list tr", has_text="CB-0002").locator(".st-Faulted")
    expect(faulted).to_have_text("1: Faulted")
    assert faulted.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(198, 40, 40)"
    page.click("#changelist-filter >> text=offline")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("CB-0003")
    page.goto("/admin/chargers/chargebox/")
    screenshot(page, "admin-box-list")
    page.goto("/dashboard/")
    expect(page.locator("[data-count=faulted]")).to_have_text("1")
    expect(page.locator("[data-count=online]")).to_have_text("3")
    screenshot(page, "dashboard")


def test_operations_sends_a_reset_and_sees_the_answer(page_as, operations_user, live_server_url, make_box,
                                                      celery_worker):
    box = make_box("OCPP-1", connectors=2, vendor="Sim", model="SimBox")
    with SimBox(live_server_url, "OCPP-1", {"Reset": {"status": "Accepted"}}) as simulated:
        page = page_as(operations_user)
        page.goto(f"/admin/chargers/chargebox/{box.pk}/change/")
        page.click("#box-commands >> text=Reset")
        page.select_option("select[name=type]", "Hard")
        page.click("input[type=submit][value='Send Reset']")
        state = page.locator("#command-state")
        expect(state).to_have_attribute("data-state", "accepted", timeout=15_000)
        expect(state.locator(".command-state")).to_have_text("Accepted")
        expect(state.locator(".command-response")).to_have_text('{"status": "Accepted"}')
        screenshot(page, "admin-reset-accepted")
        assert simulated.calls == [("Reset", {"type": "Hard"})]
    command = Command.objects.get()
    assert (command.action, command.state, command.source, command.requested_by) == (
        "Reset", "accepted", "admin", operations_user)
    page.click(f"text=Command #{command.pk} in the admin")
    expect(page.locator("#content")).to_contain_text("Reset")


def test_field_engineer_may_not_start_a_charge_or_edit_id_tags(page_as, field_engineer, network):
    from chargers.models import ChargeBox

    box = ChargeBox.objects.get(serial="CB-0001")
    tag = IdTag.objects.get(id_tag="CARD-1")
    page = page_as(field_engineer)
    page.goto(f"/admin/chargers/chargebox/{box.pk}/change/")
    buttons = page.locator("#box-commands a.button")
    expect(buttons).to_have_text(["GetConfiguration", "GetDiagnostics", "Reset", "TriggerMessage", "UnlockConnector"])

    refused = page.goto(f"/admin/chargers/chargebox/{box.pk}/command/RemoteStartTransaction/")
    assert refused.status == 403
    for url in (f"/admin/chargers/idtag/{tag.pk}/change/", "/admin/chargers/idtag/add/", "/admin/chargers/idtag/import/"):
        assert page.goto(url).status == 403, url
    page.goto("/admin/")
    expect(page.locator("#content-main")).not_to_contain_text("Id tags")

    # A hard reset is refused even when the form is posted by hand.
    page.goto(f"/admin/chargers/chargebox/{box.pk}/command/Reset/")
    page.select_option("select[name=type]", "Hard")
    response = page.expect_response(lambda r: r.url.endswith("/command/Reset/send"))
    with response as answer:
        page.click("input[type=submit][value='Send Reset']")
    assert answer.value.status == 403
    assert not Command.objects.exists()


def test_session_page_shows_the_charging_curve(page_as, operations_user, make_box, make_tag):
    box = make_box("CB-CURVE")
    make_tag("CARD-2")
    start = timezone.now() - timedelta(minutes=90)
    tx = transaction_start(box=box, connector_id=1, id_tag="CARD-2", meter_start_wh=5_000, timestamp=start).transaction
    samples = []
    for minute in range(0, 90, 2):
        at = start + timedelta(minutes=minute)
        power = 11_000 if minute < 60 else 11_000 - (minute - 60) * 300  # constant current, then tapering
        samples += [
            Sample(timestamp=at, value=str(5_000 + minute * 160), measurand="Energy.Active.Import.Register"),
            Sample(timestamp=at, value=str(power), measurand="Power.Active.Import", unit="W"),
            Sample(timestamp=at, value=str(20 + minute * 0.8), measurand="SoC", unit="Percent"),
        ]
        for phase, volts in (("L1-N", 231), ("L2-N", 229), ("L3-N", 233)):
            samples += [Sample(timestamp=at, value=str(power / 3 / volts), measurand="Current.Import", unit="A",
                               phase=phase[:2]),
                        Sample(timestamp=at, value=str(volts + minute % 3), measurand="Voltage", unit="V", phase=phase)]
    meter_values_store(box=box, connector_id=1, transaction_id=tx.id, samples=samples)
    transaction_stop(box=box, transaction_id=tx.id, meter_stop_wh=5_000 + 88 * 160, timestamp=timezone.now(),
                     reason="EVDisconnected")
    page = page_as(operations_user)
    page.goto(f"/admin/transactions/transaction/{tx.pk}/change/")
    expect(page.locator("figure.chart svg")).to_have_count(5)
    expect(page.locator("figure.chart").first).to_contain_text("Energy")
    screenshot(page, "admin-session-charts")
