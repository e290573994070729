"""The rest of DESIGN.md §3 as an outside client sees it: `manage.py apitoken` as a process, the read
API's exact shapes, health, metrics, OpenAPI, admin and status pages on the same port."""

import json
import subprocess
import sys
from pathlib import Path

from conformance_kit import BoxClient, iso
from ocpp.v16 import call

ROOT = Path(__file__).resolve().parents[2]


def manage(server_env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], check=False, cwd=ROOT, env=server_env,
                          capture_output=True, text=True, timeout=60)


def test_apitoken_prints_only_the_token_and_the_token_works(transactional_db, server_env, http, make_box):
    make_box("TK-1")
    first = manage(server_env, "apitoken", "outside-suite")
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert first.stdout == token + "\n" and token.isalnum() and len(token) >= 20
    again = manage(server_env, "apitoken", "outside-suite")
    assert again.stdout.strip() == token  # idempotent: the same user, the same token
    assert http.get_json("/api/v1/boxes/TK-1", token)[0] == 200
    code, answer = http.post_json("/evchong-api/reverse/v1/Reset", {"chargeBoxSerialNumber": "TK-1", "type": "Soft"},
                                  token)
    assert code == 200 and answer["status"] == "Rejected"  # TK-1 is not connected: refused, not unauthorized


def test_read_api_shapes(transactional_db, make_box, make_tag, ocpp_base, http, api_token):
    make_box("RD-1", connectors=2)
    make_tag("CARD")
    box = BoxClient(ocpp_base, "RD-1").open()
    try:
        box.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M", firmware_version="9.9"))
        box.call(call.StatusNotification(connector_id=1, error_code="OtherError", status="Charging",
                                         vendor_error_code="X1"))
        started = box.call(call.StartTransaction(connector_id=1, id_tag="CARD", meter_start=1000, timestamp=iso()))
        box.call(call.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[
            {"timestamp": iso(), "sampledValue": [{"value": "2.5", "unit": "kWh"},
                                                  {"value": "30", "measurand": "Temperature", "unit": "Fahrenheit"},
                                                  {"value": "300", "measurand": "Temperature", "unit": "K",
                                                   "location": "Body"}]}]))
        code, state = http.get_json("/api/v1/boxes/RD-1", api_token)
        assert code == 200 and set(state) == {"serial", "online", "lastSeen", "firmwareVersion", "protocol",
                                              "connectors"}
        assert (state["serial"], state["online"], state["firmwareVersion"]) == ("RD-1", True, "9.9")
        assert state["protocol"] == "ocpp1.6"
        assert state["lastSeen"]
        assert all(set(c) == {"connectorId", "status", "errorCode", "vendorErrorCode"} for c in state["connectors"])
        assert {"connectorId": 1, "status": "Charging", "errorCode": "OtherError",
                "vendorErrorCode": "X1"} in state["connectors"]

        code, session = http.get_json(f"/api/v1/transactions/{started.transaction_id}", api_token)
        assert code == 200 and set(session) == {"id", "box", "connectorId", "idTag", "meterStartWh", "meterStopWh",
                                                "energyWh", "startedAt", "stoppedAt", "stopReason", "meterValues",
                                                "cost"}
        assert (session["id"], session["meterStopWh"], session["stoppedAt"], session["cost"]) == (
            started.transaction_id, None, None, None)
        values = sorted((v["measurand"], v["unit"], round(v["value"], 2)) for v in session["meterValues"])
        assert values == [("Energy.Active.Import.Register", "Wh", 2500.0), ("Temperature", "Celsius", -1.11),
                          ("Temperature", "Celsius", 26.85)]
        assert all(set(v) == {"timestamp", "measurand", "value", "unit", "phase", "location", "context"}
                   for v in session["meterValues"])
    finally:
        box.stop()
    assert http.get_json("/api/v1/transactions/999999", api_token)[0] == 404
    assert http.get_json("/api/v1/boxes/NOPE", api_token)[0] == 404


def test_health_metrics_schema_docs_admin_and_status_pages(transactional_db, make_box, http):
    make_box("PG-1")
    code, headers, body = http.request("GET", "/healthz")
    assert code == 200 and json.loads(body)["status"] == "ok"
    code, headers, body = http.request("GET", "/metrics")
    assert code == 200 and headers["Content-Type"].startswith("text/plain")
    lines = body.decode().splitlines()
    assert any(line.startswith("# TYPE ") for line in lines)
    assert all(line.startswith("#") or len(line.split()) >= 2 for line in lines if line)
    code, _, body = http.request("GET", "/api/schema/")
    assert code == 200
    for path in ("/api/v1/boxes/{serial}/commands", "/api/v1/commands/{id}", "/evchong-api/reverse/v1/Reset"):
        assert path.encode() in body
    assert http.request("GET", "/api/docs/")[0] == 200
    code, _, body = http.request("GET", "/admin/login/")
    assert code == 200 and b"csrfmiddlewaretoken" in body
    # Login required: urllib follows the redirect to a login form.
    code, _, body = http.request("GET", "/boxes/PG-1/")
    assert code == 200 and b'name="password"' in body
