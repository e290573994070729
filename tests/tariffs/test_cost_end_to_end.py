"""A real session per protocol, priced across period boundaries and read back from outside through
GET /api/v1/transactions/{id} (DESIGN.md §3): an OCPP 1.6J box over a real WebSocket and an
EVCHONG forward-API box over HTTP, both against a real daphne on the test database."""

import io
import json
from datetime import UTC, datetime
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from django.core.management import call_command
from simbox import SimBox


def read_transaction(base_url: str, token: str, transaction_id: int) -> dict:
    request = Request(f"{base_url}/api/v1/transactions/{transaction_id}", headers={"Authorization": f"Token {token}"})
    with urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def token(transactional_db) -> str:
    out = io.StringIO()
    call_command("apitoken", "e2e", stdout=out)
    return out.getvalue().strip()


def addtariff(*args):
    call_command("addtariff", *args, stdout=io.StringIO())


def test_an_ocpp_session_across_the_evening_peak_the_night_valley_and_the_morning(
        live_server_url, token, make_box, make_tag):
    make_box("E2E-OCPP", connectors=1, station="ST-OCPP")
    make_tag("CARD-1")
    addtariff("TOU-OCPP", "--station", "ST-OCPP", "--period", "22:00-06:00=0.3+0.4",
              "--period", "06:00-18:00=0.85+0.4", "--period", "18:00-22:00=1.2+0.5")
    with SimBox(live_server_url, "E2E-OCPP") as box:
        # 21:30 local (Asia/Shanghai) on 10 March to 06:30 on 11 March.
        started = box.call("StartTransaction", {"connectorId": 1, "idTag": "CARD-1", "meterStart": 1000,
                                                "timestamp": "2026-03-10T13:30:00Z"})
        tx_id = started["transactionId"]
        for at, kwh in [("13:50", "4.000"), ("14:10", "7.000"), ("16:30", "20.000")]:
            box.call("MeterValues", {"connectorId": 1, "transactionId": tx_id, "meterValue": [
                {"timestamp": f"2026-03-10T{at}:00Z", "sampledValue": [
                    {"value": kwh, "unit": "kWh", "measurand": "Energy.Active.Import.Register"},
                    {"value": "7.2", "unit": "kW", "measurand": "Power.Active.Import"}]}]})
        box.call("StopTransaction", {
            "transactionId": tx_id, "meterStop": 30000, "timestamp": "2026-03-10T22:30:00Z", "reason": "EVDisconnected",
            "transactionData": [{"timestamp": "2026-03-10T22:15:00Z", "sampledValue": [{"value": "29000"}]}],
        })

    cost = read_transaction(live_server_url, token, tx_id)["cost"]
    # The register through (21:30, 1000) (21:50, 4000) (22:10, 7000) (00:30, 20000) (06:15, 29000) (06:30, 30000):
    # at 22:00 it read 5500; at 06:00, 20000 + 9000 x 330/345 = 28608.696.
    #   21:30-22:00   4500 Wh x 1.20 = 5.40, x 0.50 = 2.25
    #   22:00-06:00  23108.696 Wh x 0.30 = 6.9326 -> 6.93, x 0.40 = 9.2435 -> 9.24
    #   06:00-06:30   1391.304 Wh x 0.85 = 1.1826 -> 1.18, x 0.40 = 0.5565 -> 0.56
    assert cost == {
        "currency": "CNY", "energy": "13.51", "service": "12.05", "idle": "0.00", "total": "25.56",
        "boxReported": None,
        "lines": [
            {"from": "2026-03-10T21:30:00+08:00", "to": "2026-03-10T22:00:00+08:00", "energyWh": 4500,
             "energyPrice": "1.2000", "servicePrice": "0.5000", "energyCost": "5.40", "serviceCost": "2.25"},
            {"from": "2026-03-10T22:00:00+08:00", "to": "2026-03-11T06:00:00+08:00", "energyWh": 23109,
             "energyPrice": "0.3000", "servicePrice": "0.4000", "energyCost": "6.93", "serviceCost": "9.24"},
            {"from": "2026-03-11T06:00:00+08:00", "to": "2026-03-11T06:30:00+08:00", "energyWh": 1391,
             "energyPrice": "0.8500", "servicePrice": "0.4000", "energyCost": "1.18", "serviceCost": "0.56"},
        ],
    }


def evchong_post(base_url: str, method: str, body: dict) -> dict:
    data = urlencode({"data": json.dumps(body)}).encode()
    request = Request(f"{base_url}/evchong-api/cperent/v1/{method}", data=data,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_an_evchong_session_across_midnight_with_an_idle_fee(live_server_url, token, make_box, make_tag):
    make_box("E2E-REST", connectors=1, station="ST-REST")
    make_tag("CARD-2")
    addtariff("TOU-REST", "--station", "ST-REST", "--period", "00:00-08:00=0.31+0.2",
              "--period", "08:00-24:00=1+0.5", "--idle-fee", "4.8", "--idle-grace", "15")
    serial = {"chargeBoxSerialNumber": "E2E-REST"}
    # 23:20 local on 11 March to 01:40 on 12 March; the energy stops at 00:40.
    started = evchong_post(live_server_url, "startTrans", {**serial, "connectorId": 1, "idTag": "CARD-2",
                                                           "meterStart": 250, "timestamp": ms("2026-03-11T15:20")})
    tx_id = started["transactionId"]
    register = "Energy_Active_Import_Register"  # EVCHONG 4.5 spelling
    evchong_post(live_server_url, "meterValues", {**serial, "connectorId": 1, "transactionId": tx_id, "values": [
        {"measurand": register, "unit": "kWh", "value": "5.000", "timestamp": ms("2026-03-11T15:50")},
        {"measurand": register, "unit": "kWh", "value": "9.000", "timestamp": ms("2026-03-11T16:20")},
    ]})
    evchong_post(live_server_url, "meterValues", {**serial, "connectorId": 1, "transactionId": tx_id, "values": [
        {"measurand": register, "unit": "Wh", "value": "10000", "timestamp": ms("2026-03-11T16:40")},
    ]})
    stopped = evchong_post(live_server_url, "stopTrans", {**serial, "transactionId": tx_id, "meterStop": 10000,
                                                          "timestamp": ms("2026-03-11T17:40"),
                                                          "transactionData": {"values": []}})
    assert stopped["transactionId"] == tx_id

    cost = read_transaction(live_server_url, token, tx_id)["cost"]
    # At midnight (16:00Z), a third of the way from 5000 to 9000: 6333.333 Wh.
    #   23:20-00:00  6083.333 Wh x 1.00 = 6.0833 -> 6.08, x 0.50 = 3.0417 -> 3.04
    #   00:00-01:40  3666.667 Wh x 0.31 = 1.1367 -> 1.14, x 0.20 = 0.7333 -> 0.73
    # Idle from 00:40 to 01:40, 15 minutes free: 45 minutes x 4.80 per hour = 3.60.
    assert cost == {
        "currency": "CNY", "energy": "7.22", "service": "3.77", "idle": "3.60", "total": "14.59",
        "boxReported": None,
        "lines": [
            {"from": "2026-03-11T23:20:00+08:00", "to": "2026-03-12T00:00:00+08:00", "energyWh": 6083,
             "energyPrice": "1.0000", "servicePrice": "0.5000", "energyCost": "6.08", "serviceCost": "3.04"},
            {"from": "2026-03-12T00:00:00+08:00", "to": "2026-03-12T01:40:00+08:00", "energyWh": 3667,
             "energyPrice": "0.3100", "servicePrice": "0.2000", "energyCost": "1.14", "serviceCost": "0.73"},
        ],
    }
