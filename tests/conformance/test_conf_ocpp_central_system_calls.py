"""Every Central-System-initiated OCPP 1.6 call, driven from outside through the operations API
(POST /api/v1/boxes/{serial}/commands, wait true) and the EVCHONG reverse API, answered by an
`ocpp` library ChargePoint whose @on handlers only run for calls that pass the official schema."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conformance_kit import iso
from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call, call_result

COMMAND_FIELDS = {"id", "box", "action", "payload", "state", "response", "error", "created", "answered"}
LATER = iso(datetime.now(UTC) + timedelta(hours=2))
TX_PROFILE = {
    "chargingProfileId": 12, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
    "chargingProfileKind": "Relative",
    "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}]},
}
DEFAULT_PROFILE = {
    "chargingProfileId": 3, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Recurring", "recurrencyKind": "Daily", "validFrom": "2026-01-01T00:00:00Z",
    "chargingSchedule": {
        "duration": 86400, "startSchedule": "2026-01-01T00:00:00Z", "chargingRateUnit": "W", "minChargingRate": 1380.5,
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0, "numberPhases": 3},
                                   {"startPeriod": 28800, "limit": 7400.3, "numberPhases": 1}],
    },
}

# (action, payload, the box's answer in the command's "response", expected command state)
CALLS = [
    ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, {"status": "Accepted"}, "accepted"),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"}, {"status": "Accepted"}, "accepted"),
    ("ClearCache", {}, {"status": "Accepted"}, "accepted"),
    ("DataTransfer", {"vendorId": "com.example", "messageId": "Ping", "data": "ping"},
     {"status": "Accepted", "data": "pong"}, "accepted"),
    ("GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey"]},
     {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
      "unknownKey": ["NoSuchKey"]}, "accepted"),
    ("GetConfiguration", {}, {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}]},
     "accepted"),
    ("RemoteStartTransaction", {"connectorId": 1, "idTag": "GOOD"}, {"status": "Accepted"}, "accepted"),
    ("RemoteStartTransaction", {"idTag": "GOOD", "chargingProfile": TX_PROFILE}, {"status": "Accepted"}, "accepted"),
    ("Reset", {"type": "Soft"}, {"status": "Accepted"}, "accepted"),
    ("Reset", {"type": "Hard"}, {"status": "Accepted"}, "accepted"),
    ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}, "accepted"),
    ("GetDiagnostics", {"location": "ftp://diag.example.com/upload/", "retries": 2, "retryInterval": 30,
                        "startTime": "2026-02-01T00:00:00Z", "stopTime": "2026-02-02T00:00:00Z"},
     {"fileName": "diagnostics-20260301.tar.gz"}, "accepted"),
    ("UpdateFirmware", {"location": "https://fw.example.com/cf-2.0.bin", "retrieveDate": LATER, "retries": 3,
                        "retryInterval": 60}, {}, "accepted"),
    ("GetLocalListVersion", {}, {"listVersion": 3}, "accepted"),
    ("SendLocalList", {"listVersion": 4, "updateType": "Full", "localAuthorizationList": [
        {"idTag": "GOOD", "idTagInfo": {"status": "Accepted", "expiryDate": LATER}},
        {"idTag": "BLOCKED", "idTagInfo": {"status": "Blocked"}}]}, {"status": "Accepted"}, "accepted"),
    ("SendLocalList", {"listVersion": 5, "updateType": "Differential"}, {"status": "Accepted"}, "accepted"),
    ("CancelReservation", {"reservationId": 4711}, {"status": "Accepted"}, "accepted"),
    ("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": DEFAULT_PROFILE}, {"status": "Accepted"},
     "accepted"),
    ("ClearChargingProfile", {}, {"status": "Accepted"}, "accepted"),
    ("ClearChargingProfile", {"id": 3, "connectorId": 0, "chargingProfilePurpose": "TxDefaultProfile",
                              "stackLevel": 1}, {"status": "Accepted"}, "accepted"),
    ("GetCompositeSchedule", {"connectorId": 1, "duration": 3600, "chargingRateUnit": "A"},
     {"status": "Accepted", "connectorId": 1, "scheduleStart": "2026-03-01T10:00:00Z",
      "chargingSchedule": {"duration": 3600, "chargingRateUnit": "A", "chargingSchedulePeriod": [
          {"startPeriod": 0, "limit": 21.4, "numberPhases": 3}, {"startPeriod": 1800, "limit": 6.1}]}}, "accepted"),
]
TRIGGERS = ["BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification", "Heartbeat",
            "MeterValues", "StatusNotification"]


@pytest.fixture
def world(transactional_db, make_box, make_tag):
    make_box("CS-1", connectors=2)
    for tag in ("GOOD", "OTHER"):
        make_tag(tag)
    make_tag("BLOCKED", status="Blocked")


@pytest.fixture
def box(world, library_box, celery_worker):
    client = library_box("CS-1")
    boot = client.call(call.BootNotification(charge_point_vendor="Conformance", charge_point_model="CS"))
    assert boot.status == "Accepted"
    for connector_id in (0, 1, 2):
        client.call(call.StatusNotification(connector_id=connector_id, error_code="NoError", status="Available"))
    return client


def command(http, token, action, payload, serial="CS-1", wait=True):
    return http.post_json(f"/api/v1/boxes/{serial}/commands", {"action": action, "payload": payload, "wait": wait},
                          token)


def assert_command_shape(body: dict) -> None:
    assert set(body) == COMMAND_FIELDS, body
    assert isinstance(body["id"], int) and body["box"] == "CS-1"
    datetime.fromisoformat(body["created"])
    if body["answered"] is not None:
        datetime.fromisoformat(body["answered"])


@pytest.mark.parametrize("action, payload, answer, state", CALLS, ids=[f"{c[0]}-{n}" for n, c in enumerate(CALLS)])
def test_operations_api_call_reaches_the_box_and_brings_its_answer(box, http, api_token, action, payload, answer,
                                                                     state):
    code, body = command(http, api_token, action, payload)
    assert code == 200, body
    assert_command_shape(body)
    assert (body["action"], body["state"], body["error"]) == (action, state, None), body
    assert body["response"] == answer
    assert body["answered"] is not None
    assert box.received() == [(action, payload)]
    code, again = http.get_json(f"/api/v1/commands/{body['id']}", api_token)
    assert code == 200 and again == body


@pytest.mark.parametrize("requested", TRIGGERS)
def test_trigger_message_for_every_message(box, http, api_token, requested):
    payload = {"requestedMessage": requested}
    if requested in ("MeterValues", "StatusNotification"):
        payload["connectorId"] = 1
    code, body = command(http, api_token, "TriggerMessage", payload)
    assert (code, body["state"], body["response"]) == (200, "accepted", {"status": "Accepted"})
    assert box.received("TriggerMessage") == [("TriggerMessage", payload)]


def test_reserve_now_reaches_the_box_with_a_reservation_id(box, http, api_token):
    payload = {"connectorId": 2, "expiryDate": LATER, "idTag": "GOOD", "reservationId": 77}
    code, body = command(http, api_token, "ReserveNow", payload)
    assert (code, body["state"], body["response"]) == (200, "accepted", {"status": "Accepted"}), body
    [(_, sent)] = box.received("ReserveNow")
    assert {k: v for k, v in sent.items() if k != "reservationId"} == {k: v for k, v in payload.items()
                                                                        if k != "reservationId"}
    assert isinstance(sent["reservationId"], int)


def test_remote_stop_of_a_running_session(box, http, api_token):
    started = box.call(call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=0, timestamp=iso()))
    code, body = command(http, api_token, "RemoteStopTransaction", {"transactionId": started.transaction_id})
    assert (code, body["state"]) == (200, "accepted")
    assert box.received("RemoteStopTransaction") == [("RemoteStopTransaction",
                                                      {"transactionId": started.transaction_id})]


@pytest.mark.parametrize("answer, state", [
    (call_result.Reset(status="Rejected"), "rejected"),
    (call_result.ChangeConfiguration(status="NotSupported"), "rejected"),
    (call_result.ChangeConfiguration(status="RebootRequired"), "accepted"),
    (call_result.UnlockConnector(status="UnlockFailed"), "rejected"),
    (call_result.DataTransfer(status="UnknownVendorId"), "rejected"),
])
def test_the_box_refusal_is_the_command_state(box, http, api_token, answer, state):
    action = type(answer).__name__
    payloads = {"Reset": {"type": "Hard"}, "ChangeConfiguration": {"key": "MeterValueSampleInterval", "value": "30"},
                "ChangeAvailability": {"connectorId": 1, "type": "Inoperative"}, "UnlockConnector": {"connectorId": 2},
                "DataTransfer": {"vendorId": "com.other"}}
    box.cp.answers[action] = lambda p: answer
    code, body = command(http, api_token, action, payloads[action])
    assert (code, body["state"]) == (200, state)
    assert body["response"]["status"] == answer.status


def test_a_callerror_from_the_box_fails_the_command_with_its_code(world, library_box, celery_worker, http,
                                                                  api_token):
    """A box without smart charging answers GetCompositeSchedule with a CALLERROR: the command
    fails with the box's code."""

    def unsupported(payload):
        raise NotSupportedError(description="no smart charging here")

    client = library_box("CS-1", answers={"GetCompositeSchedule": unsupported})
    code, body = command(http, api_token, "GetCompositeSchedule", {"connectorId": 0, "duration": 60})
    assert (code, body["state"], body["response"]) == (200, "failed", None)
    assert body["error"]["code"] == "NotSupported"
    assert client.received("GetCompositeSchedule")


def test_an_answer_that_cannot_be_stored_fails_the_command_and_the_connection_lives(box, http, api_token):
    """A NUL in a string is valid JSON and passes the schema, but jsonb cannot hold it."""
    box.cp.answers["DataTransfer"] = lambda p: call_result.DataTransfer(status="Accepted", data="x\u0000y")
    code, body = command(http, api_token, "DataTransfer", {"vendorId": "com.example"})
    assert (code, body["state"], body["error"]["code"]) == (200, "failed", "InternalError")
    assert box.call(call.Heartbeat()).current_time


def test_wait_false_is_202_and_the_answer_is_read_later(box, http, api_token, wait_for):
    code, body = command(http, api_token, "ClearCache", {}, wait=False)
    assert code == 202 and body["state"] in ("queued", "sent") and body["response"] is None
    box.wait_received("ClearCache")

    def answered():
        return http.get_json(f"/api/v1/commands/{body['id']}", api_token)[1]["state"] == "accepted"

    wait_for(answered)


class TestOperationsApiRefusals:
    def test_unknown_action_is_400(self, box, http, api_token):
        code, body = command(http, api_token, "BootNotification", {"chargePointVendor": "x", "chargePointModel": "y"})
        assert code == 400 and "action" in body

    @pytest.mark.parametrize("action, payload", [
        ("Reset", {}),
        ("Reset", {"type": "Warm"}),
        ("UnlockConnector", {"connectorId": "1"}),
        ("ChangeConfiguration", {"key": "K" * 51, "value": "1"}),
        ("RemoteStartTransaction", {"idTag": "GOOD", "extra": 1}),
        ("SetChargingProfile", {"connectorId": 1,
                                "csChargingProfiles": {**TX_PROFILE, "chargingProfileKind": "Daily"}}),
    ])
    def test_payload_failing_the_schema_is_400_and_never_sent(self, box, http, api_token, action, payload):
        code, body = command(http, api_token, action, payload)
        assert code == 400 and "payload" in body, body
        assert box.received() == []

    def test_unknown_box_is_404(self, box, http, api_token):
        assert command(http, api_token, "ClearCache", {}, serial="NOPE")[0] == 404
        assert command(http, api_token, "ClearCache", {}, serial="CS-1%00")[0] == 404
        listing = http.request("GET", "/api/v1/boxes/CS%001/commands", headers={"Authorization": f"Token {api_token}"})
        assert listing[0] == 404

    @pytest.mark.parametrize("payload", [{"key": "Greeting", "value": "a\u0000b"}, {"key": "K\u0000", "value": "1"}])
    def test_a_nul_in_the_payload_is_400_not_500(self, box, http, api_token, payload):
        code, body = command(http, api_token, "ChangeConfiguration", payload)
        assert code == 400 and "payload" in body, body
        assert box.received() == []

    def test_no_token_is_401(self, box, http):
        code, _, _ = http.request("POST", "/api/v1/boxes/CS-1/commands", '{"action": "ClearCache"}',
                                  {"Content-Type": "application/json"})
        assert code == 401


class TestReverseApiWithAnOcppBox:
    """EVCHONG 3.1-3.4 against a box connected over OCPP: the box sees each call."""

    def reverse(self, http, token, method, body):
        return http.post_json(f"/evchong-api/reverse/v1/{method}", body, token)

    def test_remote_start_then_stop(self, box, http, api_token):
        code, answer = self.reverse(http, api_token, "RemoteStartTransaction",
                                    {"chargeBoxSerialNumber": "CS-1", "connectorId": 2, "idTag": "GOOD"})
        assert (code, answer) == (200, {"status": "Accepted"})
        assert box.received() == [("RemoteStartTransaction", {"connectorId": 2, "idTag": "GOOD"})]
        started = box.call(call.StartTransaction(connector_id=2, id_tag="GOOD", meter_start=0, timestamp=iso()))
        box.call(call.StatusNotification(connector_id=2, error_code="NoError", status="Charging"))
        # The connector is in use now: a second start is refused by us, without asking the box.
        code, answer = self.reverse(http, api_token, "RemoteStartTransaction",
                                    {"chargeBoxSerialNumber": "CS-1", "connectorId": 2, "idTag": "OTHER"})
        assert code == 200 and answer["status"] == "Rejected" and answer["message"]
        code, answer = self.reverse(http, api_token, "RemoteStopTransaction",
                                    {"chargeBoxSerialNumber": {"chargeBoxSerialNumber": "CS-1"},
                                     "transactionId": started.transaction_id})
        assert (code, answer) == (200, {"status": "Accepted"})
        assert box.received("RemoteStopTransaction") == [("RemoteStopTransaction",
                                                          {"transactionId": started.transaction_id})]
        box.call(call.StopTransaction(meter_stop=10, timestamp=iso(), transaction_id=started.transaction_id,
                                      reason="Remote"))
        code, answer = self.reverse(http, api_token, "RemoteStopTransaction",
                                    {"chargeBoxSerialNumber": "CS-1", "transactionId": started.transaction_id})
        assert answer["status"] == "Rejected" and answer["message"]
        assert len(box.received("RemoteStopTransaction")) == 1

    def test_remote_start_refused_by_the_box(self, box, http, api_token):
        box.cp.answers["RemoteStartTransaction"] = lambda p: call_result.RemoteStartTransaction(status="Rejected")
        code, answer = self.reverse(http, api_token, "RemoteStartTransaction",
                                    {"chargeBoxSerialNumber": "CS-1", "connectorId": 1, "idTag": "GOOD"})
        assert code == 200 and answer["status"] == "Rejected" and answer["message"]
        # The refusal freed the connector at once.
        box.cp.answers["RemoteStartTransaction"] = lambda p: call_result.RemoteStartTransaction(status="Accepted")
        code, answer = self.reverse(http, api_token, "RemoteStartTransaction",
                                    {"chargeBoxSerialNumber": "CS-1", "connectorId": 1, "idTag": "GOOD"})
        assert answer == {"status": "Accepted"}

    @pytest.mark.parametrize("kind", ["Hard", "Soft"])
    def test_reset(self, box, http, api_token, kind):
        code, answer = self.reverse(http, api_token, "Reset", {"chargeBoxSerialNumber": "CS-1", "type": kind})
        assert (code, answer) == (200, {"status": "Accepted"})
        assert box.received() == [("Reset", {"type": kind})]

    def test_update_firmware_with_the_spec_retrieve_date(self, box, http, api_token, settings):
        code, answer = self.reverse(http, api_token, "UpdateFirmware", {
            "chargeBoxSerialNumber": "CS-1", "location": "ftp://fw.example.com/cs-2.0.bin",
            "retrieveDate": "2026-12-01 02:00:00", "retries": 2, "retryInterval": 120})
        assert (code, answer) == (200, {"status": "Accepted"})
        [(_, sent)] = box.received("UpdateFirmware")
        local = datetime(2026, 12, 1, 2, 0).replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
        assert datetime.fromisoformat(sent["retrieveDate"]) == local
        assert (sent["location"], sent["retries"], sent["retryInterval"]) == ("ftp://fw.example.com/cs-2.0.bin", 2, 120)


class TestWhatTheBoxDoesNext:
    """OCTT-style follow-ups: after answering, the box acts on the call; we take what it sends."""

    @pytest.mark.parametrize("kind, reason", [("Soft", "SoftReset"), ("Hard", "HardReset")])
    def test_reset_during_a_session(self, box, http, api_token, world, library_box, kind, reason):
        started = box.call(call.StartTransaction(connector_id=1, id_tag="GOOD", meter_start=0, timestamp=iso()))
        assert http.post_json("/evchong-api/reverse/v1/Reset", {"chargeBoxSerialNumber": "CS-1", "type": kind},
                              api_token) == (200, {"status": "Accepted"})
        box.call(call.StopTransaction(meter_stop=321, timestamp=iso(), transaction_id=started.transaction_id,
                                      reason=reason))
        box.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Finishing"))
        box.close()
        rebooted = library_box("CS-1")
        assert rebooted.call(call.BootNotification(charge_point_vendor="Conformance",
                                                   charge_point_model="CS")).status == "Accepted"
        rebooted.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        session = http.get_json(f"/api/v1/transactions/{started.transaction_id}", api_token)[1]
        assert (session["stopReason"], session["energyWh"]) == (reason, 321)

    def test_unlock_connector_during_a_session(self, box, http, api_token):
        started = box.call(call.StartTransaction(connector_id=2, id_tag="GOOD", meter_start=0, timestamp=iso()))
        code, body = command(http, api_token, "UnlockConnector", {"connectorId": 2})
        assert (code, body["state"]) == (200, "accepted")
        box.call(call.StopTransaction(meter_stop=5, timestamp=iso(), transaction_id=started.transaction_id,
                                      reason="UnlockCommand"))
        assert http.get_json(f"/api/v1/transactions/{started.transaction_id}", api_token)[1]["stopReason"] == \
            "UnlockCommand"

    @pytest.mark.parametrize("requested, message", [
        ("BootNotification", call.BootNotification(charge_point_vendor="Conformance", charge_point_model="CS")),
        ("Heartbeat", call.Heartbeat()),
        ("StatusNotification", call.StatusNotification(connector_id=1, error_code="NoError", status="Available")),
        ("MeterValues", call.MeterValues(connector_id=1, meter_value=[{"timestamp": iso(), "sampledValue": [
            {"value": "123", "context": "Trigger"}]}])),
        ("FirmwareStatusNotification", call.FirmwareStatusNotification(status="Idle")),
        ("DiagnosticsStatusNotification", call.DiagnosticsStatusNotification(status="Idle")),
    ])
    def test_the_triggered_message_is_taken(self, box, http, api_token, requested, message):
        code, body = command(http, api_token, "TriggerMessage", {"requestedMessage": requested})
        assert (code, body["state"]) == (200, "accepted")
        assert box.call(message) is not None
