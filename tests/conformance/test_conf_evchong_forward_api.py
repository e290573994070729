"""The EVCHONG forward API (spec section 2) over real HTTP against daphne: the eight examples as
printed (only the PDF's broken braces and line breaks repaired), in every envelope and Content-Type
boxes use, and the variants real boxes send. Every answer is checked for the spec's mandatory
fields, epoch-millisecond times and Content-Type application/json; malformed input gets a 400 JSON
body that names the field."""

import base64
import json
import time
import uuid
from urllib.parse import quote, urlencode

import pytest

BASE = "/evchong-api/cperent/v1/"

EXAMPLES = {
    "deviceBoot": '{ "iccid":{ "iccid":"xxxxx"}, "chargePointModel":{ "chargePointModel":"Keli-0001"}, '
                  '"chargePointVendor":{ "chargePointVendor":"mmmmm"}, "chargeBoxSerialNumber":{ '
                  '"chargeBoxSerialNumber":"mmmmm"}, "chargePointSerialNumber":{ "chargePointSerialNumber":"mmmmm"}, '
                  '"imsi":{ "imsi":"xxxxx"}, "meterType":{ "meterType":"xxxxx"}, "firmwareVersion":{ '
                  '"firmwareVersion":"xxxxx"},"meterSerialNumber":{ "meterSerialNumber":"xxxxx"} }',
    "authorize": '{"authReq":{"idToken":{"idToken":"mmmmm"},"chargeBoxSerialNumber":'
                 '{"chargeBoxSerialNumber":"mmmmm"}}}',
    "heartbeat": '{"chargePointSerialNumber":{"chargePointSerialNumber":"xxxxxx"},"chargeBoxSerialNumber":'
                 '{"chargeBoxSerialNumber":"mmmmm"}}',
    "startTrans": '{"idToken":{"idToken":"ooooo"},"connectorId":1,"meterStart":1,"reservationId":1,'
                  '"chargeBoxSerialNumber":{"chargeBoxSerialNumber":"ooooo"},"timestamp":1425289031076}',
    "meterValues": '{"connectorId":1,"transactionId":1,"chargeBoxSerialNumber":{"chargeBoxSerialNumber":"xxxxx"},'
                   '"values":[{"measurand":"Energy_Active_Import_Register","unit":"kWh","value":"xxxxx",'
                   '"location":"Outlet","context":"Sample_Periodic","format":"Raw","timestamp":1425289652130},'
                   '{"measurand":"Current.Import","unit":"Amp","value":"xxxxx","location":"Outlet",'
                   '"context":"Sample_Periodic","format":"Raw","timestamp":1425289652130},{ "measurand":"Voltage",'
                   '"unit":"Volt" ,"value":"xxxxx","location":"Outlet","context":"Sample_Periodic","format":"Raw",'
                   '"timestamp":1425289652130}]}',
    "stopTrans": '{ "idTag":{ "idToken":"xxxxx"}, "transactionId":1, "transactionData":{ "values":[{"measurand":'
                 '"Energy_Active_Import_Register", "unit":"Wh", "value":"xxxxx", "location":"Outlet", "context":'
                 '"Sample_Periodic", "format":"Raw", "timestamp":1425289652130}]},"chargeBoxSerialNumber":'
                 '{"chargeBoxSerialNumber":"ooooo"},"meterStop":1,"timestamp":1425290113204}',
    "statusNotify": '{"connectorId":1,"vendorErrorCode":"ooooo","chargeBoxSerialNumber":{"chargeBoxSerialNumber":'
                    '"ooooo"},"errorCode":"GroundFailure","vendorId":"ooooo","info":"xxxxx","timestamp":1425290540330,'
                    '"status":"Available","transcationId":""}',
    "firmwareStatusNotify": '{ "chargeBoxSerialNumber":{ "chargeBoxSerialNumber":"mmmmm" } ,"status":"Downloaded" }',
}


def is_epoch_ms(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 10**12 <= value < 10**13


def is_recent_ms(value) -> bool:
    return is_epoch_ms(value) and abs(value - time.time() * 1000) < 60_000


def check_id_tag_info(info: dict) -> None:
    assert info["status"] in ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"), info
    assert set(info) <= {"status", "expiryDate", "parentIdTag"}, info
    if "expiryDate" in info:
        assert is_epoch_ms(info["expiryDate"])
    if "parentIdTag" in info:
        assert set(info["parentIdTag"]) == {"idToken"}


# The mandatory output fields of EVCHONG 2.1-2.8, checked on every 200.
def check_answer(method: str, body: dict) -> None:
    if method == "deviceBoot":
        assert set(body) == {"currentTime", "heartbeatInterval", "status"}
        assert is_recent_ms(body["currentTime"]) and isinstance(body["heartbeatInterval"], int)
        assert body["status"] in ("Accepted", "Rejected")
    elif method == "authorize":
        assert set(body) == {"authRes"} and set(body["authRes"]) == {"idTagInfo"}
        check_id_tag_info(body["authRes"]["idTagInfo"])
    elif method == "heartbeat":
        assert set(body) == {"currentTime"} and is_recent_ms(body["currentTime"])
    elif method in ("startTrans", "stopTrans"):
        assert set(body) == {"idTagInfo", "transactionId"} and isinstance(body["transactionId"], int)
        check_id_tag_info(body["idTagInfo"])
    elif method == "meterValues":
        assert set(body) == {"transactionId", "timestamp"} and is_recent_ms(body["timestamp"])
    else:
        assert set(body) == {"timestamp"} and is_recent_ms(body["timestamp"])


def multipart(fields: dict) -> tuple[str, bytes]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    return f"multipart/form-data; boundary={boundary}", ("".join(parts) + f"--{boundary}--\r\n").encode()


# How boxes deliver data={...}: (name, body from the JSON text, Content-Type or None for no header).
ENVELOPES = {
    "form-urlencoded": (lambda text: urlencode({"data": text}), "application/x-www-form-urlencoded"),
    "form-urlencoded-utf8": (lambda text: "data=" + quote(text, safe=""),
                             "application/x-www-form-urlencoded; charset=UTF-8"),
    "form-label-raw-json": (lambda text: "data=" + text, "application/x-www-form-urlencoded"),
    "text-data": (lambda text: "data=" + text, "text/plain"),
    "text-json": (lambda text: text, "text/plain;charset=utf-8"),
    "json": (lambda text: text, "application/json"),
    "json-with-data-prefix": (lambda text: "data=" + text, "application/json"),
    "no-content-type": (lambda text: "data=" + text, None),
    "multipart": (None, "multipart/form-data"),
}


class Forward:
    def __init__(self, http):
        self.http = http

    def post(self, method: str, body, envelope: str = "json", headers: dict | None = None):
        """POST ``body`` (a dict or the JSON text) as ``envelope``: (status, parsed JSON, headers)."""
        text = body if isinstance(body, str) else json.dumps(body)
        build, content_type = ENVELOPES[envelope]
        if envelope == "multipart":
            content_type, data = multipart({"data": text})
        else:
            data = build(text).encode()
        all_headers = {**({"Content-Type": content_type} if content_type else {}), **(headers or {})}
        status, response_headers, content = self.http.request("POST", BASE + method, data, all_headers)
        assert response_headers.get("Content-Type") == "application/json", (status, response_headers, content)
        parsed = json.loads(content)
        if status == 200:
            check_answer(method, parsed)
        return status, parsed

    def ok(self, method: str, body, envelope: str = "json", **kw) -> dict:
        status, parsed = self.post(method, body, envelope, **kw)
        assert status == 200, parsed
        return parsed

    def bad(self, method: str, body, field: str, envelope: str = "json") -> dict:
        status, parsed = self.post(method, body, envelope)
        assert status == 400, parsed
        assert parsed["field"] == field and field in parsed["fields"] and parsed["problem"], parsed
        return parsed


@pytest.fixture
def forward(http, transactional_db, make_box, make_tag) -> Forward:
    for serial in ("mmmmm", "ooooo", "xxxxx"):
        make_box(serial, connectors=2)
    make_box("LOCKED", password="box-secret-123")
    make_tag("PARENT")
    for tag in ("mmmmm", "ooooo", "xxxxx", "xxxxxx", "xxxx"):
        make_tag(tag, parent="PARENT" if tag == "ooooo" else None)
    make_tag("STOP", status="Blocked")
    return Forward(http)


@pytest.mark.parametrize("envelope", ENVELOPES)
def test_the_eight_spec_examples_in_every_envelope(forward, envelope):
    answers = {method: forward.ok(method, example, envelope) for method, example in EXAMPLES.items()}
    assert answers["deviceBoot"]["status"] == "Accepted"
    assert answers["authorize"]["authRes"]["idTagInfo"] == {"status": "Accepted"}
    assert answers["startTrans"]["idTagInfo"] == {"status": "Accepted", "parentIdTag": {"idToken": "PARENT"}}
    assert answers["meterValues"]["transactionId"] == 1


def test_spec_session_in_order(forward):
    """startTrans, meterValues and stopTrans of the examples against one session."""
    started = forward.ok("startTrans", EXAMPLES["startTrans"], "form-urlencoded")
    tx = started["transactionId"]
    meter = json.loads(EXAMPLES["meterValues"])
    meter["transactionId"] = tx
    meter["chargeBoxSerialNumber"] = {"chargeBoxSerialNumber": "ooooo"}
    assert forward.ok("meterValues", meter, "form-urlencoded")["transactionId"] == tx
    stop = EXAMPLES["stopTrans"].replace('"transactionId":1', f'"transactionId":{tx}')
    stopped = forward.ok("stopTrans", stop, "form-urlencoded")
    assert stopped == {"idTagInfo": {"status": "Accepted"}, "transactionId": tx}
    # A box resends a stop it got no answer to: the same answer, no error.
    assert forward.ok("stopTrans", stop, "text-data") == stopped


def test_device_boot_of_an_unregistered_box_is_rejected_in_the_spec_terms(forward):
    body = forward.ok("deviceBoot", EXAMPLES["deviceBoot"].replace('"chargeBoxSerialNumber":"mmmmm"',
                                                                   '"chargeBoxSerialNumber":"STRANGER"'))
    assert body["status"] == "Rejected"


class TestVariants:
    def test_plain_scalars_and_idtag_instead_of_idtoken(self, forward):
        body = forward.ok("authorize", {"chargeBoxSerialNumber": "mmmmm", "idTag": "mmmmm"})
        assert body == {"authRes": {"idTagInfo": {"status": "Accepted"}}}
        body = forward.ok("authorize", {"authReq": {"chargeBoxSerialNumber": "mmmmm", "idTag": {"idTag": "STOP"}}})
        assert body["authRes"]["idTagInfo"]["status"] == "Blocked"
        body = forward.ok("authorize", {"authReq": {"chargeBoxSerialNumber": "mmmmm", "IdToken": {"IdToken": "who"}}})
        assert body["authRes"]["idTagInfo"]["status"] == "Invalid"

    def test_parent_id_tag_is_wrapped_in_id_token(self, forward):
        body = forward.ok("authorize", {"chargeBoxSerialNumber": "mmmmm", "idToken": {"idToken": "ooooo"}})
        assert body["authRes"]["idTagInfo"] == {"status": "Accepted", "parentIdTag": {"idToken": "PARENT"}}

    def test_numbers_as_strings(self, forward):
        started = forward.ok("startTrans", {"chargeBoxSerialNumber": "xxxxx", "connectorId": "2", "idTag": "xxxxx",
                                            "meterStart": "1000", "timestamp": "1425289031076"})
        tx = started["transactionId"]
        forward.ok("meterValues", {"chargeBoxSerialNumber": "xxxxx", "connectorId": "2", "transactionId": str(tx),
                                   "values": [{"measurand": "Energy.Active.Import.Register", "unit": "Wh",
                                               "value": 1500, "timestamp": "1425289652130"}]})
        stopped = forward.ok("stopTrans", {"chargeBoxSerialNumber": "xxxxx", "transactionId": str(tx),
                                           "meterStop": "2000", "timestamp": "1425290113204",
                                           "transactionData": {"values": []}})
        assert stopped["transactionId"] == tx

    def test_wrapped_numbers(self, forward):
        started = forward.ok("startTrans", {"chargeBoxSerialNumber": {"chargeBoxSerialNumber": "xxxxx"},
                                            "connectorId": {"connectorId": 1}, "idTag": {"idToken": "xxxxx"},
                                            "meterStart": {"meterStart": 0}, "timestamp": {"timestamp": 1425289031076}})
        assert started["idTagInfo"]["status"] == "Accepted"

    @pytest.mark.parametrize("measurand, unit, value", [
        ("Energy_Active_Import_Register", "kWh", "12.34"), ("Energy.Active.Import.Register", "Wh", "12340"),
        ("Current_Import", "Amp", "16.02"), ("Current.Import", "Amp", "16"), ("Voltage", "Volt", "229.87"),
        ("Power_Active_Import", "kW", "7.2"), ("Power.Active.Import", "W", "7200"), ("Temperature", "Celsius", "41.5"),
        ("Energy_Reactive_Import_Register", "kvarh", "1.5"), ("Power.Reactive.Import", "var", "10"),
        ("Energy.Active.Export.Interval", "kWh", "0.01"), ("Current.Export", "Amp", "0"),
    ])
    def test_measurands_with_underscores_or_dots_and_spec_units(self, forward, measurand, unit, value):
        body = forward.ok("meterValues", {"chargeBoxSerialNumber": "xxxxx", "connectorId": 1, "transactionId": 77,
                                          "values": [{"measurand": measurand, "unit": unit, "value": value,
                                                      "timestamp": 1425289652130}]}, "form-urlencoded")
        assert body["transactionId"] == 77

    @pytest.mark.parametrize("transaction_field", [
        {"transcationId": ""}, {"transcationId": -1}, {"transcationId": "-1"}, {"transcationId": 12},
        {"transactionId": ""}, {"transactionId": -1}, {}, {"transcationId": {"transcationId": ""}},
        {"transcationId": None},
    ])
    def test_status_notify_transaction_id_spellings(self, forward, transaction_field):
        forward.ok("statusNotify", {"chargeBoxSerialNumber": "ooooo", "connectorId": 1, "errorCode": "NoError",
                                    "status": "Available", "timestamp": int(time.time() * 1000), "vendorId": "v",
                                    "vendorErrorCode": "", **transaction_field}, "form-urlencoded")

    @pytest.mark.parametrize("status, error_code", [
        ("Available", "NoError"), ("Occupied", "NoError"), ("Reserved", "NoError"), ("Unavailable", "NoError"),
        ("Faulted", "Mode3Error"), ("Faulted", "GroundFailure"), ("Faulted", "HighTemperature"),
        ("Faulted", "OverCurrentFailure"), ("Faulted", "PowerMeterFailure"), ("Faulted", "PowerSwitchFailure"),
        ("Faulted", "ReaderFailure"), ("Faulted", "ResetFailure"), ("Faulted", "UnderVoltage"),
        ("Faulted", "WeakSignal"), ("Faulted", "ConnectorLockFailure"), ("Faulted", "OtherError"),
    ])
    def test_every_evchong_status_and_error_code(self, forward, status, error_code):
        forward.ok("statusNotify", {"chargeBoxSerialNumber": "ooooo", "connectorId": 1, "errorCode": error_code,
                                    "status": status, "timestamp": int(time.time() * 1000), "vendorId": "v",
                                    "vendorErrorCode": "E1", "transcationId": -1})

    @pytest.mark.parametrize("status", ["Downloaded", "DownloadFailed", "InstallationFailed", "Installed"])
    def test_every_firmware_status(self, forward, status):
        forward.ok("firmwareStatusNotify", {"chargeBoxSerialNumber": "mmmmm", "status": status}, "text-data")

    def test_json_object_with_a_data_member(self, forward):
        """The form's data field, written as JSON by a gateway: {"data": {...}} or {"data": "{...}"}."""
        document = json.loads(EXAMPLES["heartbeat"])
        forward.ok("heartbeat", {"data": document})
        forward.ok("heartbeat", {"data": json.dumps(document)})

    @pytest.mark.parametrize("accept", ["text/plain", "text/html", "application/xml", "text/plain; charset=utf-8",
                                        "*/*", "application/json, text/plain, */*"])
    def test_json_whatever_the_accept_header_says(self, forward, accept):
        body = forward.ok("heartbeat", EXAMPLES["heartbeat"], "text-data", headers={"Accept": accept})
        assert is_recent_ms(body["currentTime"])

    @pytest.mark.parametrize("envelope", ["text-data", "form-urlencoded", "json"])
    def test_chunked_body_without_content_length(self, forward, envelope):
        build, content_type = ENVELOPES[envelope]
        status, headers, content = forward.http.post_chunked(
            BASE + "startTrans", build(EXAMPLES["startTrans"]).encode(), {"Content-Type": content_type})
        assert (status, headers["Content-Type"]) == (200, "application/json"), content
        check_answer("startTrans", json.loads(content))

    def test_basic_auth_for_a_box_with_a_password(self, forward):
        heartbeat = {"chargeBoxSerialNumber": "LOCKED"}
        status, body = forward.post("heartbeat", heartbeat)
        assert status == 401 and body["field"] == "Authorization"
        token = base64.b64encode(b"LOCKED:box-secret-123").decode()
        forward.ok("heartbeat", heartbeat, headers={"Authorization": f"Basic {token}"})
        wrong = base64.b64encode(b"LOCKED:guess").decode()
        assert forward.post("heartbeat", heartbeat, headers={"Authorization": f"Basic {wrong}"})[0] == 401


class TestMalformed:
    @pytest.mark.parametrize("envelope", ["json", "form-urlencoded", "text-data", "multipart"])
    @pytest.mark.parametrize("text", ["{", "[1]", '{"chargeBoxSerialNumber": }', "null"])
    def test_broken_json_is_400_on_data(self, forward, envelope, text):
        forward.bad("heartbeat", text, "data", envelope)

    def test_empty_body_is_400_on_data(self, forward):
        status, _, content = forward.http.request("POST", BASE + "heartbeat", b"", {"Content-Type": "text/plain"})
        assert status == 400 and json.loads(content)["field"] == "data"

    @pytest.mark.parametrize("method, body, field", [
        ("deviceBoot", {"chargeBoxSerialNumber": "mmmmm", "chargePointVendor": "v"}, "chargePointSerialNumber"),
        ("deviceBoot", {"chargeBoxSerialNumber": "m" * 26, "chargePointVendor": "v", "chargePointSerialNumber": "s"},
         "chargeBoxSerialNumber"),
        ("authorize", {"authReq": {"chargeBoxSerialNumber": "mmmmm"}}, "idTag"),
        ("authorize", {"chargeBoxSerialNumber": "mmmmm", "idToken": {"idToken": "T" * 21}}, "idTag"),
        ("startTrans", {"chargeBoxSerialNumber": "xxxxx", "connectorId": "one", "idTag": "x", "meterStart": 0,
                        "timestamp": 1425289031076}, "connectorId"),
        ("startTrans", {"chargeBoxSerialNumber": "xxxxx", "connectorId": 1, "idTag": "x", "meterStart": 0,
                        "timestamp": 1425289031}, "timestamp"),
        ("startTrans", {"chargeBoxSerialNumber": "xxxxx", "connectorId": 1, "idTag": "x", "timestamp": 1425289031076},
         "meterStart"),
        ("startTrans", {"chargeBoxSerialNumber": "xxxxx", "connectorId": 1, "idTag": "x", "meterStart": 0,
                        "timestamp": "2015-02-30 10:00:00"}, "timestamp"),  # no such day
        ("startTrans", {"chargeBoxSerialNumber": "xxxxx", "connectorId": 1, "idTag": "x", "meterStart": 0,
                        "timestamp": "1" * 5000}, "timestamp"),
        ("startTrans", {"chargeBoxSerialNumber": "xxxxx", "connectorId": "1" * 5000, "idTag": "x", "meterStart": 0,
                        "timestamp": 1425289031076}, "connectorId"),
        ("statusNotify", {"chargeBoxSerialNumber": "ooooo", "connectorId": 1, "errorCode": "NoError",
                          "status": "Available", "timestamp": "2015-03-02T25:00:00Z", "vendorId": "v",
                          "vendorErrorCode": ""}, "timestamp"),
        ("meterValues", {"chargeBoxSerialNumber": "xxxxx", "connectorId": 1, "transactionId": 1, "values": [
            {"measurand": "Voltage", "unit": "Volt", "value": "230", "timestamp": 1425289652130},
            {"measurand": "Voltage", "unit": "Bananas", "value": "230", "timestamp": 1425289652130}]},
         "values[1].unit"),
        ("meterValues", {"chargeBoxSerialNumber": "xxxxx", "connectorId": 1, "transactionId": 1, "values": [
            {"measurand": "Fuel", "value": "1", "timestamp": 1425289652130}]}, "values[0].measurand"),
        ("stopTrans", {"chargeBoxSerialNumber": "ooooo", "transactionId": 1, "meterStop": 1,
                       "timestamp": 1425290113204}, "transactionData"),
        ("stopTrans", {"chargeBoxSerialNumber": "ooooo", "transactionId": "", "meterStop": 1,
                       "timestamp": 1425290113204, "transactionData": {"values": []}}, "transactionId"),
        ("statusNotify", {"chargeBoxSerialNumber": "ooooo", "connectorId": 1, "errorCode": "NoError",
                          "status": "Charging?", "timestamp": 1425290540330, "vendorId": "v", "vendorErrorCode": ""},
         "status"),
        ("statusNotify", {"chargeBoxSerialNumber": "ooooo", "connectorId": 1, "errorCode": "NoError",
                          "status": "Available", "timestamp": 1425290540330, "vendorErrorCode": ""}, "vendorId"),
        ("firmwareStatusNotify", {"chargeBoxSerialNumber": "mmmmm"}, "status"),
    ])
    def test_field_problems_are_400_naming_the_field(self, forward, method, body, field):
        forward.bad(method, body, field)

    def test_unknown_box_is_refused_naming_the_box(self, forward):
        status, body = forward.post("heartbeat", {"chargeBoxSerialNumber": "NOBODY"})
        assert status in (400, 403, 404) and body["field"] == "chargeBoxSerialNumber"
