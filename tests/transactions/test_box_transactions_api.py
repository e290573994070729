"""GET /api/v1/boxes/{serial}/transactions (DESIGN.md §3): a box's sessions, newest first, each in
the read API's shape without meter values, a page at a time."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from transactions.services import transaction_start, transaction_stop


@pytest.fixture
def api(db):
    out = io.StringIO()
    call_command("apitoken", "reader", stdout=out)
    return Client(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")


@pytest.fixture
def sessions(make_box, make_tag):
    box = make_box("BT-1", connectors=1)
    make_box("BT-OTHER", connectors=1)
    make_tag("CARD")
    start = timezone.now() - timedelta(hours=2)
    ids = []
    for n in range(3):
        started = transaction_start(box=box, connector_id=1, id_tag="CARD", meter_start_wh=1000 * n,
                                    timestamp=start + timedelta(minutes=30 * n)).transaction
        if n < 2:
            transaction_stop(box=box, transaction_id=started.id, meter_stop_wh=1000 * n + 500,
                             timestamp=start + timedelta(minutes=30 * n + 10))
        ids.append(started.id)
    return ids


def test_a_box_sessions_newest_first_without_meter_values(api, sessions):
    response = api.get("/api/v1/boxes/BT-1/transactions")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next"} and body["next"] is None
    assert [session["id"] for session in body["results"]] == sessions[::-1]
    running, *stopped = body["results"]
    assert "meterValues" not in running and running["box"] == "BT-1"
    assert (running["stoppedAt"], running["meterStopWh"], running["energyWh"]) == (None, None, None)
    assert [session["energyWh"] for session in stopped] == [500, 500]


def test_pages_follow_the_next_link(api, sessions, settings):
    from transactions.api import NewestFirst

    NewestFirst.page_size, size = 2, NewestFirst.page_size
    try:
        first = api.get("/api/v1/boxes/BT-1/transactions").json()
        second = api.get(first["next"]).json()
    finally:
        NewestFirst.page_size = size
    assert [s["id"] for s in first["results"] + second["results"]] == sessions[::-1]
    assert second["next"] is None


def test_a_box_without_sessions_has_an_empty_list(api, sessions):
    assert api.get("/api/v1/boxes/BT-OTHER/transactions").json() == {"results": [], "next": None}


def test_an_unknown_box_is_404(api, db):
    assert api.get("/api/v1/boxes/NOBODY/transactions").status_code == 404
    assert api.get("/api/v1/boxes/NO%00BODY/transactions").status_code == 404


def test_needs_a_token(db):
    assert Client().get("/api/v1/boxes/BT-1/transactions").status_code == 401
