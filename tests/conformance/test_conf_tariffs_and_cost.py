"""DESIGN.md §3 "Tariffs and session cost" from outside: `manage.py addtariff` as a process, a session
from an `ocpp` library box whose meter values cross a wrapped period and midnight, its `cost` read
back through the read API to the fen."""

import subprocess
import sys
from pathlib import Path

from ocpp.v16 import call

ROOT = Path(__file__).resolve().parents[2]


def manage(server_env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], check=False, cwd=ROOT, env=server_env,
                          capture_output=True, text=True, timeout=60)


def test_addtariff_refuses_overlapping_periods_naming_the_option(transactional_db, server_env):
    done = manage(server_env, "addtariff", "BAD", "--period", "00:00-12:00=1+0.5", "--period", "11:00-00:00=1+0.5")
    assert done.returncode != 0
    assert "--period: 11:00-00:00 overlaps 00:00-12:00" in done.stderr


def test_cost_of_a_session_across_a_wrapped_period_and_midnight(transactional_db, server_env, make_box, make_tag,
                                                                 library_box, http, api_token):
    make_box("TF-1", connectors=1, station="ST-TF")
    make_tag("CARD")
    done = manage(server_env, "addtariff", "NIGHT", "--station", "ST-TF", "--period", "23:00-07:00=0.2512+0.35",
                  "--period", "07:00-23:00=0.9+0.6", "--currency", "CNY")
    assert done.returncode == 0, done.stderr
    box = library_box("TF-1")
    assert box.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M")).status == "Accepted"
    # 22:40 local (Asia/Shanghai) to 07:20 the next morning.
    started = box.call(call.StartTransaction(connector_id=1, id_tag="CARD", meter_start=500,
                                             timestamp="2026-08-20T14:40:00Z"))
    for at, wh in [("2026-08-20T15:20:00Z", "4500"), ("2026-08-20T16:30:00Z", "9000"),
                   ("2026-08-20T22:50:00Z", "30000")]:
        box.call(call.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[
            {"timestamp": at, "sampledValue": [{"value": wh, "measurand": "Energy.Active.Import.Register",
                                                "unit": "Wh"}]}]))
    box.call(call.StopTransaction(meter_stop=31000, timestamp="2026-08-20T23:20:00Z",
                                  transaction_id=started.transaction_id, reason="Local"))
    code, session = http.get_json(f"/api/v1/transactions/{started.transaction_id}", api_token)
    assert code == 200
    # The register through (22:40, 500) (23:20, 4500) (00:30, 9000) (06:50, 30000) (07:20, 31000):
    # at 23:00, 2500; at 07:00, 30000 + 1000 x 10/30 = 30333.333.
    #   22:40-23:00   2000 Wh x 0.90 = 1.80, x 0.60 = 1.20
    #   23:00-07:00  27833.333 Wh x 0.2512 = 6.99173 -> 6.99, x 0.35 = 9.74167 -> 9.74
    #   07:00-07:20    666.667 Wh x 0.90 = 0.60, x 0.60 = 0.40
    assert session["cost"] == {
        "currency": "CNY", "energy": "9.39", "service": "11.34", "idle": "0.00", "total": "20.73",
        "boxReported": None,
        "lines": [
            {"from": "2026-08-20T22:40:00+08:00", "to": "2026-08-20T23:00:00+08:00", "energyWh": 2000,
             "energyPrice": "0.9000", "servicePrice": "0.6000", "energyCost": "1.80", "serviceCost": "1.20"},
            {"from": "2026-08-20T23:00:00+08:00", "to": "2026-08-21T07:00:00+08:00", "energyWh": 27833,
             "energyPrice": "0.2512", "servicePrice": "0.3500", "energyCost": "6.99", "serviceCost": "9.74"},
            {"from": "2026-08-21T07:00:00+08:00", "to": "2026-08-21T07:20:00+08:00", "energyWh": 667,
             "energyPrice": "0.9000", "servicePrice": "0.6000", "energyCost": "0.60", "serviceCost": "0.40"},
        ],
    }
