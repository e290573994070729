"""The status pages and the dashboard: who may see them, what they show, and the polled fragments."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from chargers.choices import Direction, Protocol
from chargers.services import box_touch, connector_status_report, journal_record
from firmware.services import firmware_status_record
from staff import PASSWORD, person
from transactions.services import Sample, meter_values_store, transaction_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def box(make_box, make_tag):
    box = make_box("CB-STATUS", connectors=2, vendor="Keli", model="K7")
    box_touch(box=box, protocol=Protocol.EVCHONG)
    now = timezone.now()
    connector_status_report(box=box, connector_id=1, status="Charging", error_code="NoError", timestamp=now)
    connector_status_report(box=box, connector_id=2, status="Faulted", error_code="GroundFailure", timestamp=now,
                            vendor_error_code="E-417")
    make_tag("CARD")
    started = transaction_start(box=box, connector_id=1, id_tag="CARD", meter_start_wh=1000, timestamp=now)
    meter_values_store(box=box, connector_id=1, transaction_id=started.transaction.id, samples=[
        Sample(timestamp=now, value="4500", measurand="Energy.Active.Import.Register", unit="Wh"),
        Sample(timestamp=now, value="7.4", measurand="Power.Active.Import", unit="kW"),
    ])
    firmware_status_record(box=box, status="Downloading")
    journal_record(box=box, direction=Direction.IN, protocol=Protocol.EVCHONG, action="heartbeat", payload='{"x":1}')
    return box


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_pages_require_login(client, box):
    for name, args in [("status:boxes", []), ("status:box", ["CB-STATUS"]), ("status:dashboard", [])]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("status:login"))


def test_fragments_answer_401_not_a_login_page(client, box):
    assert client.get(reverse("status:box-live", args=["CB-STATUS"])).status_code == 401
    assert client.get(reverse("status:dashboard-live")).status_code == 401


def test_users_without_a_role_are_refused(client, box):
    login(client, person("paul", None, staff=False))
    assert client.get(reverse("status:box", args=["CB-STATUS"])).status_code == 403
    assert client.get(reverse("status:box-live", args=["CB-STATUS"])).status_code == 403


def test_status_page_shows_connectors_session_firmware_and_journal(client, box, field_engineer):
    login(client, field_engineer)
    page = client.get(reverse("status:box", args=["CB-STATUS"])).content.decode()
    assert 'data-connector="1" data-status="Charging"' in page
    assert 'data-connector="2" data-status="Faulted"' in page
    assert "GroundFailure" in page and "E-417" in page  # error and vendor error codes
    assert "7.4 kW" in page and "3.50 kWh" in page  # the running session's power and energy
    assert "Downloading" in page
    assert "heartbeat" in page and "online" in page
    assert "Open alarms" in page


def test_fragment_is_not_sent_again_when_unchanged(client, box, field_engineer):
    login(client, field_engineer)
    url = reverse("status:box-live", args=["CB-STATUS"])
    first = client.get(url)
    assert first.status_code == 200 and first["ETag"]
    assert "no-cache" in first["Cache-Control"]
    assert client.get(url, headers={"If-None-Match": first["ETag"]}).status_code == 304
    connector_status_report(box=box, connector_id=2, status="Available", error_code="NoError",
                            timestamp=timezone.now() + timedelta(seconds=1))
    changed = client.get(url, headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200
    assert b'data-connector="2" data-status="Available"' in changed.content


def test_search_finds_boxes_by_serial_and_state(client, box, make_box, field_engineer):
    make_box("CB-OTHER")
    login(client, field_engineer)
    page = client.get(reverse("status:boxes"), {"q": "status"}).content.decode()
    assert "CB-STATUS" in page and "CB-OTHER" not in page
    faulted = client.get(reverse("status:boxes"), {"state": "faulted"}).content.decode()
    assert "CB-STATUS" in faulted and "CB-OTHER" not in faulted
    offline = client.get(reverse("status:boxes"), {"state": "offline"}).content.decode()
    assert "CB-OTHER" in offline and "CB-STATUS" not in offline


def test_unknown_box_is_404(client, field_engineer):
    login(client, field_engineer)
    assert client.get(reverse("status:box", args=["NOPE"])).status_code == 404


def test_dashboard_counts(client, box, make_box, field_engineer):
    make_box("CB-OTHER")
    login(client, field_engineer)
    dashboard = client.get(reverse("status:dashboard")).context["dashboard"]
    assert (dashboard.boxes, dashboard.online, dashboard.offline) == (2, 1, 1)
    assert (dashboard.charging, dashboard.faulted, dashboard.active_sessions) == (1, 1, 1)
    assert dashboard.energy_running_wh == 3500
    assert [a.error_code for a in dashboard.faults] == ["GroundFailure"]


def test_login_page_logs_in_and_goes_back(client, box, field_engineer):
    target = reverse("status:box", args=["CB-STATUS"])
    response = client.post(reverse("status:login"), {"username": "fred", "password": PASSWORD, "next": target})
    assert response.status_code == 302 and response["Location"] == target


def test_dashboard_shows_process_restarts_of_make_run(client, box, field_engineer, tmp_path, monkeypatch):
    import json

    monkeypatch.setattr("core.stack.VAR_DIR", tmp_path)
    login(client, field_engineer)
    assert client.get(reverse("status:dashboard")).context["dashboard"].restarts == {}
    (tmp_path / "supervisor.json").write_text(json.dumps({"web-0": {"restarts": 0, "pid": 1},
                                                          "worker": {"restarts": 3, "pid": 2}}))
    response = client.get(reverse("status:dashboard"))
    assert response.context["dashboard"].restarted == 3
    assert "worker 3" in response.content.decode()
