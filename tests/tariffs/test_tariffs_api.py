"""/api/v1/tariffs (GET, POST, PUT), /api/v1/stations/{code}/tariff, and `cost` in the transaction
read API (DESIGN.md §3)."""

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.test import Client

from tariffs.models import Tariff
from transactions.services import transaction_start, transaction_stop

SHANGHAI = ZoneInfo("Asia/Shanghai")
BODY = {
    "code": "TOU", "currency": "CNY", "stations": ["ST-1"], "idleFeePerHour": "6", "idleGraceMinutes": 30,
    "periods": [{"from": "22:00", "to": "06:00", "energyPrice": "0.3", "servicePrice": 0.4},
                {"from": "06:00", "to": "22:00", "energyPrice": "0.8512", "servicePrice": "0.4"}],
}


@pytest.fixture
def api(db, make_box):
    make_box("BOX-1", station="ST-1")
    make_box("BOX-2", station="ST-2")
    out = io.StringIO()
    call_command("apitoken", "ops", stdout=out)
    return Client(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")


def post(api, body):
    return api.post("/api/v1/tariffs", body, content_type="application/json")


def put(api, code, body):
    return api.put(f"/api/v1/tariffs/{code}", body, content_type="application/json")


def test_create_read_and_list_a_tariff(api):
    created = post(api, BODY)
    assert created.status_code == 201, created.json()
    expected = {
        "code": "TOU", "name": "", "currency": "CNY", "validFrom": None, "default": False, "stations": ["ST-1"],
        "idleFeePerHour": "6.0000", "idleGraceMinutes": 30,
        "periods": [{"from": "06:00", "to": "22:00", "energyPrice": "0.8512", "servicePrice": "0.4000"},
                    {"from": "22:00", "to": "06:00", "energyPrice": "0.3000", "servicePrice": "0.4000"}],
    }
    assert created.json() == expected
    assert api.get("/api/v1/tariffs/TOU").json() == expected
    assert api.get("/api/v1/tariffs").json() == [expected]
    assert api.get("/api/v1/tariffs/NONE").status_code == 404


def test_post_of_an_existing_code_is_refused_and_put_replaces_it(api):
    post(api, BODY)
    again = post(api, BODY)
    assert again.status_code == 400 and "code" in again.json()
    replaced = put(api, "TOU", {**BODY, "stations": ["ST-2"], "default": True, "validFrom": "2026-02-01",
                                "periods": [{"from": "00:00", "to": "24:00", "energyPrice": 1, "servicePrice": 0}]})
    assert replaced.status_code == 200, replaced.json()
    body = replaced.json()
    assert (body["stations"], body["default"], body["validFrom"], len(body["periods"])) == (
        ["ST-2"], True, "2026-02-01T00:00:00+08:00", 1)
    assert put(api, "NEW", {**BODY, "code": "NEW", "stations": []}).status_code == 201
    assert put(api, "NEW", {**BODY, "code": "OTHER"}).json() == {"code": ["the body names 'OTHER', the URL 'NEW'"]}


@pytest.mark.parametrize(("change", "field", "problem"), [
    ({"periods": [{"from": "00:00", "to": "12:00", "energyPrice": 1, "servicePrice": 0},
                  {"from": "11:00", "to": "00:00", "energyPrice": 1, "servicePrice": 0}]},
     "periods", "11:00-00:00 overlaps 00:00-12:00 (at 11:00)"),
    ({"periods": [{"from": "00:00", "to": "12:00", "energyPrice": 1, "servicePrice": 0}]},
     "periods", "no period covers 12:00-00:00: the periods must cover the whole day"),
    ({"periods": [{"from": "00:00", "to": "00:00", "energyPrice": "0.12345", "servicePrice": 0}]},
     "periods[0].energyPrice", "0.12345 has more than 4 decimals"),
    ({"periods": [{"from": "00:00", "to": "00:00", "energyPrice": 1, "servicePrice": -0.1}]},
     "periods[0].servicePrice", "-0.1 is negative; prices are 0 or more"),
    ({"periods": [{"from": "0:6", "to": "00:00", "energyPrice": 1, "servicePrice": 0}]},
     "periods[0].from", "'0:6' is not a time HH:MM"),
    ({"stations": ["ST-1", "NOWHERE"]}, "stations", "there is no station 'NOWHERE'"),
    ({"currency": "RMB1"}, "currency", "'RMB1' is not a currency code of three capital letters (CNY)"),
    ({"idleFeePerHour": "-2"}, "idleFeePerHour", "-2 is negative; prices are 0 or more"),
    ({"validFrom": "yesterday"}, "validFrom", "'yesterday' is not an ISO 8601 date or date-time"),
])
def test_bad_input_is_400_naming_the_field(api, change, field, problem):
    response = post(api, {**BODY, **change})
    assert response.status_code == 400
    assert response.json() == {field: [problem]}
    assert not Tariff.objects.exists()


def test_a_station_is_assigned_a_tariff(api):
    post(api, BODY)
    response = api.put("/api/v1/stations/ST-2/tariff", {"tariff": "TOU"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["stations"] == ["ST-1", "ST-2"]
    assert api.put("/api/v1/stations/ST-9/tariff", {"tariff": "TOU"},
                   content_type="application/json").json() == {"station": ["there is no station 'ST-9'"]}
    assert api.put("/api/v1/stations/ST-2/tariff", {"tariff": "NOPE"},
                   content_type="application/json").json() == {"tariff": ["there is no tariff 'NOPE'"]}


def test_a_field_engineer_may_read_tariffs_but_not_change_them(api, field_engineer):
    post(api, BODY)
    client = Client()
    client.force_login(field_engineer)
    assert client.get("/api/v1/tariffs/TOU").status_code == 200
    assert put(client, "TOU", BODY).status_code == 403


def test_the_transaction_read_api_shows_the_cost_to_the_fen(api):
    from chargers.models import ChargeBox

    post(api, BODY)
    call_command("addidtag", "CARD", stdout=io.StringIO())
    box = ChargeBox.objects.get(serial="BOX-1")
    start = datetime(2026, 6, 1, 21, 0, tzinfo=SHANGHAI)
    tx = transaction_start(box=box, connector_id=1, id_tag="CARD", meter_start_wh=100, timestamp=start).transaction
    running = api.get(f"/api/v1/transactions/{tx.pk}").json()
    assert running["cost"] is None
    transaction_stop(box=box, transaction_id=tx.pk, meter_stop_wh=3100, timestamp=start + timedelta(hours=3))
    cost = api.get(f"/api/v1/transactions/{tx.pk}").json()["cost"]
    # 1000 Wh 21:00-22:00 at 0.8512+0.4, 2000 Wh 22:00-00:00 at 0.3+0.4
    assert cost == {
        "currency": "CNY", "total": "2.65", "energy": "1.45", "service": "1.20", "idle": "0.00", "boxReported": None,
        "lines": [
            {"from": "2026-06-01T21:00:00+08:00", "to": "2026-06-01T22:00:00+08:00", "energyWh": 1000,
             "energyPrice": "0.8512", "servicePrice": "0.4000", "energyCost": "0.85", "serviceCost": "0.40"},
            {"from": "2026-06-01T22:00:00+08:00", "to": "2026-06-02T00:00:00+08:00", "energyWh": 2000,
             "energyPrice": "0.3000", "servicePrice": "0.4000", "energyCost": "0.60", "serviceCost": "0.80"},
        ],
    }


def test_the_tariffs_are_in_the_openapi_schema(api):
    text = api.get("/api/schema/").content.decode()
    assert "/api/v1/tariffs/{code}" in text and "/api/v1/stations/{code}/tariff" in text and "energyWh" in text


def test_operations_staff_may_change_tariffs(api, operations_user):
    client = Client()
    client.force_login(operations_user)
    assert post(client, BODY).status_code == 201


def test_a_code_that_cannot_be_a_path_segment_is_refused(api):
    response = post(api, {**BODY, "code": "a/b"})
    assert response.json() == {"code": ["'a/b': a code is 1 to 40 letters, digits, '.', '_' or '-'"]}


@pytest.mark.parametrize("body", ["[1, 2]", '"TOU"', "3"])
def test_a_body_that_is_no_object_is_400_not_500(api, body):
    response = api.put("/api/v1/tariffs/TOU", body, content_type="application/json")
    assert response.status_code == 400, response.content
