"""Malformed input gets HTTP 400 with a JSON body naming the field and the problem; never a 500."""

import pytest

START = {
    "chargeBoxSerialNumber": "BOX-1", "connectorId": 1, "idTag": "TAG", "meterStart": 0,
    "timestamp": 1425289031076,
}


@pytest.fixture(autouse=True)
def world(make_box, make_tag):
    make_box("BOX-1")
    make_tag("TAG")


def assert_400(response, field, fragment=""):
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert field in body["fields"], body
    assert body["field"] in body["fields"]
    assert fragment.lower() in " ".join(body["fields"][field]).lower(), body


@pytest.mark.parametrize("method", ["deviceBoot", "authorize", "heartbeat", "startTrans", "meterValues",
                                    "stopTrans", "statusNotify", "firmwareStatusNotify"])
@pytest.mark.parametrize("body", ["", "data=", "data={", "data=[1,2]", "data=\"x\"", "hello", "data={\"a\":}"])
def test_broken_envelope_is_400_on_field_data(evchong, method, body):
    response = evchong.http.post(f"/evchong-api/cperent/v1/{method}", body, content_type="text/plain")
    assert_400(response, "data")


@pytest.mark.parametrize("method", ["deviceBoot", "authorize", "heartbeat", "startTrans", "meterValues",
                                    "stopTrans", "statusNotify", "firmwareStatusNotify"])
def test_missing_box_serial_is_named(evchong, method):
    assert_400(evchong.post(method, {}), "chargeBoxSerialNumber", "required")


def test_box_serial_longer_than_25_is_refused(evchong):
    assert_400(evchong.post("heartbeat", {"chargeBoxSerialNumber": "B" * 26}), "chargeBoxSerialNumber", "25")


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("connectorId", "one", "integer"),
        ("connectorId", 1.5, "integer"),
        ("connectorId", True, "integer"),
        ("connectorId", 0, "greater than or equal to 1"),
        ("meterStart", -1, "greater than or equal to 0"),
        ("idTag", "T" * 21, "20"),
        ("idTag", {"idToken": {"deep": 1}}, "string"),
        ("timestamp", "yesterday", "epoch"),
        ("timestamp", 1425289031, "out of range"),
        ("reservationId", "x", "integer"),
    ],
)
def test_start_trans_field_problems_are_named(evchong, field, value, fragment):
    assert_400(evchong.post("startTrans", {**START, field: value}), field, fragment)


@pytest.mark.parametrize("field", ["connectorId", "idTag", "meterStart", "timestamp"])
def test_start_trans_mandatory_fields(evchong, field):
    body = {k: v for k, v in START.items() if k != field}
    assert_400(evchong.post("startTrans", body), field, "required")


def test_device_boot_mandatory_and_lengths(evchong):
    boot = {"chargeBoxSerialNumber": "BOX-1", "chargePointSerialNumber": "ST-1", "chargePointVendor": "V"}
    assert evchong.post("deviceBoot", boot).status_code == 200
    assert_400(evchong.post("deviceBoot", {**boot, "chargePointVendor": "V" * 21}), "chargePointVendor", "20")
    assert_400(evchong.post("deviceBoot", {**boot, "iccid": "9" * 21}), "iccid", "20")
    assert_400(evchong.post("deviceBoot", {**boot, "firmwareVersion": "f" * 51}), "firmwareVersion", "50")
    del boot["chargePointSerialNumber"]
    assert_400(evchong.post("deviceBoot", boot), "chargePointSerialNumber", "required")


STATUS = {
    "chargeBoxSerialNumber": "BOX-1", "connectorId": 1, "errorCode": "NoError", "status": "Available",
    "timestamp": 1425290540330, "vendorId": "V", "vendorErrorCode": "",
}


@pytest.mark.parametrize(
    "field, value",
    [("status", "Broken"), ("status", "available"), ("errorCode", "Oops"), ("info", "i" * 51),
     ("vendorErrorCode", "e" * 51), ("connectorId", -1), ("transactionId", "abc")],
)
def test_status_notify_enums_and_lengths(evchong, field, value):
    assert_400(evchong.post("statusNotify", {**STATUS, field: value}), field)


@pytest.mark.parametrize("field", ["errorCode", "status", "timestamp", "vendorId", "vendorErrorCode", "connectorId"])
def test_status_notify_mandatory_fields(evchong, field):
    body = {k: v for k, v in STATUS.items() if k != field}
    assert_400(evchong.post("statusNotify", body), field, "required")


METER = {
    "chargeBoxSerialNumber": "BOX-1", "connectorId": 1, "transactionId": 1,
    "values": [{"measurand": "Voltage", "unit": "Volt", "value": "230.1", "timestamp": 1425289652130}],
}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"measurand": "Voltage.Something"}, "values[0].measurand"),
        ({"unit": "furlong"}, "values[0].unit"),
        ({"location": "Roof"}, "values[0].location"),
        ({"context": "Whenever"}, "values[0].context"),
        ({"timestamp": None}, "values[0].timestamp"),
        ({"format": "Base64"}, "values[0].format"),
    ],
)
def test_meter_value_problems_name_the_list_item(evchong, change, field):
    body = {**METER, "values": [{**METER["values"][0], **change}]}
    assert_400(evchong.post("meterValues", body), field)


def test_meter_values_requires_values_list(evchong):
    assert_400(evchong.post("meterValues", {**METER, "values": "none"}), "values")
    body = {k: v for k, v in METER.items() if k != "values"}
    assert_400(evchong.post("meterValues", body), "values", "required")


def test_stop_trans_requires_transaction_data_and_meter_stop(evchong):
    stop = {"chargeBoxSerialNumber": "BOX-1", "transactionId": 5, "meterStop": 10, "timestamp": 1425290113204,
            "transactionData": {"values": []}}
    assert evchong.post("stopTrans", stop).status_code == 200
    assert_400(evchong.post("stopTrans", {k: v for k, v in stop.items() if k != "meterStop"}), "meterStop")
    assert_400(evchong.post("stopTrans", {k: v for k, v in stop.items() if k != "transactionData"}),
               "transactionData")


def test_firmware_status_must_be_a_firmware_status(evchong):
    assert_400(evchong.post("firmwareStatusNotify", {"chargeBoxSerialNumber": "BOX-1", "status": "Done"}),
               "status", "Downloaded")


def test_nul_characters_are_refused_not_crashing(evchong):
    assert_400(evchong.post("authorize", {"chargeBoxSerialNumber": "BOX-1", "idTag": "A\u0000B"}), "idTag")


def test_get_is_not_allowed(evchong):
    response = evchong.http.get("/evchong-api/cperent/v1/heartbeat")
    assert response.status_code == 405
    assert response.json()["error"]


def test_json_nested_past_any_request_is_400_on_data(evchong):
    deep = '{"chargeBoxSerialNumber": "BOX-1", "a": ' + '{"a": ' * 400 + "1" + "}" * 401
    response = evchong.http.post("/evchong-api/cperent/v1/heartbeat", "data=" + deep, content_type="text/plain")
    assert_400(response, "data", "nested deeper")


@pytest.mark.parametrize("path", ["/evchong-api/cperent/v1/noSuchMethod", "/evchong-api/cperent/v1/heartbeat/",
                                  "/evchong-api/reverse/v1/NoSuchAction", "/api/v1/no-such-thing"])
def test_unknown_api_path_is_404_in_json(evchong, path):
    response = evchong.http.post(path, "data={}", content_type="text/plain")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["field"] == "path"


def test_unknown_page_outside_the_apis_stays_html(evchong):
    response = evchong.http.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
