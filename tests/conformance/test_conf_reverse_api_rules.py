"""The reverse API's rules (EVCHONG 1 e-g, section 3; DESIGN.md §3) from outside: tokens, contention
for one connector, bounded answers from silent or vanishing boxes, and several server processes.
The box is an `ocpp` library ChargePoint; requests are plain HTTP."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conformance_kit import Http, iso
from ocpp.v16 import call, call_result

METHODS = {
    "RemoteStartTransaction": {"chargeBoxSerialNumber": "RV-1", "connectorId": 1, "idTag": "CARD"},
    "RemoteStopTransaction": {"chargeBoxSerialNumber": "RV-1", "transactionId": 1},
    "UpdateFirmware": {"chargeBoxSerialNumber": "RV-1", "location": "ftp://fw.example.com/rv.bin",
                       "retrieveDate": "2026-12-01 02:00:00"},
    "Reset": {"chargeBoxSerialNumber": "RV-1", "type": "Soft"},
}
# Short timeouts for the silent-box cases; the order of spec rule f holds (API > box).
SHORT = {"OCPP_CALL_TIMEOUT": "2", "REVERSE_API_TIMEOUT": "4"}


@pytest.fixture
def world(transactional_db, make_box, make_tag):
    make_box("RV-1", connectors=2)
    make_box("RV-REST", connectors=1)
    make_tag("CARD")


@pytest.fixture
def thirty_cards(world, make_tag):
    for n in range(30):
        make_tag(f"CARD{n}")


@pytest.fixture(scope="module")
def other_server(start_daphne) -> Http:
    """A second daphne on the same database and Redis: boxes connect to the first."""
    return Http(start_daphne())


@pytest.fixture(scope="module")
def short_server(start_daphne) -> str:
    return start_daphne(**SHORT)


def reverse(http: Http, token, method, body, **kw):
    return http.post_json(f"/evchong-api/reverse/v1/{method}", body, token, **kw)


def boot(client):
    assert client.call(call.BootNotification(charge_point_vendor="V", charge_point_model="M")).status == "Accepted"
    for connector_id in (0, 1, 2):
        client.call(call.StatusNotification(connector_id=connector_id, error_code="NoError", status="Available"))
    return client


@pytest.mark.parametrize("method", METHODS)
def test_missing_or_wrong_token_is_401(transactional_db, http, method):
    for authorization in (None, "Token", "Token not-a-real-token", "Bearer x", "Basic UlYtMTp4"):
        headers = {"Content-Type": "application/json", **({"Authorization": authorization} if authorization else {})}
        status, response_headers, content = http.request("POST", f"/evchong-api/reverse/v1/{method}",
                                                         json.dumps(METHODS[method]), headers)
        assert status == 401, (authorization, content)
        assert response_headers["Content-Type"] == "application/json"
        assert json.loads(content)["status"] == "Rejected"


@pytest.mark.parametrize("accept", ["text/plain", "text/html", "application/xml", "*/*"])
def test_answers_are_json_whatever_the_accept_header_says(world, http, api_token, accept):
    status, headers, content = http.request("POST", "/evchong-api/reverse/v1/Reset", json.dumps(METHODS["Reset"]), {
        "Content-Type": "application/json", "Accept": accept, "Authorization": f"Token {api_token}"})
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert json.loads(content)["status"] == "Rejected"  # RV-1 is not connected


def test_chunked_request_body(world, library_box, celery_worker, http, api_token):
    box = boot(library_box("RV-1"))
    status, _, content = http.post_chunked("/evchong-api/reverse/v1/Reset", json.dumps(METHODS["Reset"]).encode(), {
        "Content-Type": "application/json", "Authorization": f"Token {api_token}"})
    assert (status, json.loads(content)) == (200, {"status": "Accepted"})
    assert box.received() == [("Reset", {"type": "Soft"})]


@pytest.mark.parametrize("location", ["ftp://fwserver/keli/fw-2.1.bin", "ftps://fw_01.plant.local:990/fw.bin",
                                      "ftp://deploy:s3cret@10.1.2.3:2121/fw.bin", "FTP://[2001:db8::7]/fw.bin"])
def test_update_firmware_takes_any_ftp_or_ftps_uri(world, library_box, celery_worker, http, api_token, location):
    box = boot(library_box("RV-1"))
    body = {**METHODS["UpdateFirmware"], "location": location}
    assert reverse(http, api_token, "UpdateFirmware", body) == (200, {"status": "Accepted"})
    assert box.received("UpdateFirmware")[0][1]["location"] == location


@pytest.mark.parametrize("location", ["sftp://deploy@10.1.2.3/fw.bin", "http://[2001:db8::7]/fw.bin",
                                      "https://fw.example.com/fw.bin"])
def test_update_firmware_elsewhere_than_ftp_or_ftps_is_rejected_by_rule_h(world, library_box, celery_worker, http,
                                                                          api_token, location):
    box = boot(library_box("RV-1"))
    code, answer = reverse(http, api_token, "UpdateFirmware", {**METHODS["UpdateFirmware"], "location": location})
    assert (code, answer["status"]) == (200, "Rejected") and "rule h" in answer["message"]
    assert box.received("UpdateFirmware") == []


@pytest.mark.parametrize("retrieve_date, sent", [
    ("2026-12-01 02:00:00", "2026-11-30T18:00:00Z"),  # EVCHONG 3.3, in TIME_ZONE (Asia/Shanghai)
    ("2026-12-01T02:00:00", "2026-11-30T18:00:00Z"),  # the same, written the ISO way
    ("2026-12-01T02:00:00Z", "2026-12-01T02:00:00Z"),
    ("2026-12-01T02:00:00+01:00", "2026-12-01T01:00:00Z"),
    (1796092800000, "2026-12-01T02:40:00Z"),  # epoch milliseconds
])
def test_update_firmware_retrieve_date_forms(world, library_box, celery_worker, http, api_token, settings,
                                             retrieve_date, sent):
    assert settings.TIME_ZONE == "Asia/Shanghai"
    box = boot(library_box("RV-1"))
    body = {**METHODS["UpdateFirmware"], "retrieveDate": retrieve_date}
    assert reverse(http, api_token, "UpdateFirmware", body) == (200, {"status": "Accepted"})
    assert box.received("UpdateFirmware")[0][1]["retrieveDate"] == sent


@pytest.mark.parametrize("retrieve_date", ["2026-02-30 02:00:00", "2026-12-01 24:00:00", "soon", ""])
def test_update_firmware_retrieve_date_that_does_not_exist_is_400(world, http, api_token, retrieve_date):
    body = {**METHODS["UpdateFirmware"], "retrieveDate": retrieve_date}
    code, answer = reverse(http, api_token, "UpdateFirmware", body)
    assert (code, answer["status"], answer["field"]) == (400, "Rejected", "retrieveDate")


@pytest.mark.parametrize("location", ["fw.bin", "ftp://fw.example.com/with space.bin", "", "://x"])
def test_update_firmware_location_that_is_no_uri_is_400(world, http, api_token, location):
    code, body = reverse(http, api_token, "UpdateFirmware", {**METHODS["UpdateFirmware"], "location": location})
    assert (code, body["status"], body["field"]) == (400, "Rejected", "location")


def test_default_timeouts_follow_rule_f(settings):
    assert settings.REVERSE_API_TIMEOUT > settings.OCPP_CALL_TIMEOUT
    assert settings.REVERSE_API_TIMEOUT <= 30


def test_thirty_concurrent_remote_starts_on_one_connector(thirty_cards, library_box, celery_worker, http, api_token):
    box = boot(library_box("RV-1", answers={
        "RemoteStartTransaction": lambda p: (time.sleep(0.3), call_result.RemoteStartTransaction(status="Accepted"))[1]
    }))
    barrier = threading.Barrier(30)

    def one(n):
        barrier.wait()
        return reverse(http, api_token, "RemoteStartTransaction",
                       {"chargeBoxSerialNumber": "RV-1", "connectorId": 1, "idTag": f"CARD{n}"})

    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(one, range(30)))
    assert {code for code, _ in answers} == {200}
    statuses = [body["status"] for _, body in answers]
    assert statuses.count("Accepted") == 1, answers
    assert all(body["message"] for _, body in answers if body["status"] == "Rejected")
    time.sleep(0.5)
    assert len(box.received("RemoteStartTransaction")) == 1


def test_concurrent_remote_starts_through_two_server_processes(thirty_cards, other_server, library_box, celery_worker,
                                                               http, api_token):
    """Half the callers reach another daphne; still one Accepted, one call to the box."""
    box = boot(library_box("RV-1"))
    other = other_server
    barrier = threading.Barrier(20)

    def one(n):
        barrier.wait()
        return reverse(other if n % 2 else http, api_token, "RemoteStartTransaction",
                       {"chargeBoxSerialNumber": "RV-1", "connectorId": 2, "idTag": f"CARD{n}"})[1]["status"]

    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(one, range(20))).count("Accepted") == 1
    time.sleep(0.5)
    assert len(box.received("RemoteStartTransaction")) == 1


def test_ten_concurrent_remote_stops_of_one_session(world, library_box, celery_worker, http, api_token):
    box = boot(library_box("RV-1"))
    started = box.call(call.StartTransaction(connector_id=1, id_tag="CARD", meter_start=0, timestamp=iso()))
    barrier = threading.Barrier(10)

    def one(_):
        barrier.wait()
        return reverse(http, api_token, "RemoteStopTransaction",
                       {"chargeBoxSerialNumber": "RV-1", "transactionId": started.transaction_id})[1]

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(one, range(10)))
    assert [a["status"] for a in answers].count("Accepted") == 1, answers
    assert all(a["message"] for a in answers if a["status"] == "Rejected")
    time.sleep(0.5)
    assert len(box.received("RemoteStopTransaction")) == 1


@pytest.mark.parametrize("status, error_code", [("Faulted", "GroundFailure"), ("Unavailable", "NoError"),
                                                ("Charging", "NoError"), ("SuspendedEV", "NoError"),
                                                ("Finishing", "NoError")])
def test_remote_start_on_a_connector_that_cannot_start_is_rejected_without_asking_the_box(
        world, library_box, celery_worker, http, api_token, status, error_code):
    box = boot(library_box("RV-1"))
    box.call(call.StatusNotification(connector_id=1, error_code=error_code, status=status))
    code, answer = reverse(http, api_token, "RemoteStartTransaction", METHODS["RemoteStartTransaction"])
    assert code == 200 and answer["status"] == "Rejected" and answer["message"]
    # The other connector is free, and a connector the box has just prepared (cable in) may start.
    box.call(call.StatusNotification(connector_id=2, error_code="NoError", status="Preparing"))
    code, answer = reverse(http, api_token, "RemoteStartTransaction", {**METHODS["RemoteStartTransaction"],
                                                                       "connectorId": 2})
    assert answer == {"status": "Accepted"}
    assert box.received() == [("RemoteStartTransaction", {"connectorId": 2, "idTag": "CARD"})]


@pytest.mark.parametrize("method", ["RemoteStartTransaction", "UpdateFirmware", "Reset"])
def test_a_command_through_a_second_server_reaches_a_box_on_the_first(world, other_server, library_box,
                                                                      celery_worker, api_token, method):
    box = boot(library_box("RV-1"))
    assert reverse(other_server, api_token, method, METHODS[method]) == (200, {"status": "Accepted"})
    assert [action for action, _ in box.received()] == [method]


def test_remote_stop_through_a_second_server(world, other_server, library_box, celery_worker, api_token):
    box = boot(library_box("RV-1"))
    started = box.call(call.StartTransaction(connector_id=1, id_tag="CARD", meter_start=0, timestamp=iso()))
    body = {"chargeBoxSerialNumber": "RV-1", "transactionId": started.transaction_id}
    assert reverse(other_server, api_token, "RemoteStopTransaction", body) == (200, {"status": "Accepted"})
    assert box.received() == [("RemoteStopTransaction", {"transactionId": started.transaction_id})]


class TestBoundedAnswers:
    @pytest.fixture
    def short(self, short_server, settings):
        # The in-process Celery worker stamps each call's deadline from these settings.
        for name, value in SHORT.items():
            setattr(settings, name, float(value))
        return short_server

    @pytest.mark.parametrize("method", ["RemoteStartTransaction", "UpdateFirmware", "Reset"])
    def test_silent_box_is_rejected_within_the_api_timeout(self, world, short, library_box, celery_worker,
                                                           api_token, method):
        box = boot(library_box("RV-1", base=short.replace("http://", "ws://") + "/ocpp/",
                               answers={method: None}))
        began = time.monotonic()
        code, body = reverse(Http(short), api_token, method, METHODS[method])
        elapsed = time.monotonic() - began
        assert code == 200 and body["status"] == "Rejected" and body["message"]
        assert elapsed < float(SHORT["REVERSE_API_TIMEOUT"]) + 0.5
        assert box.received(method)

    def test_a_silent_box_frees_the_connector_for_the_next_start(self, world, short, library_box, celery_worker,
                                                                 api_token):
        box = boot(library_box("RV-1", base=short.replace("http://", "ws://") + "/ocpp/",
                               answers={"RemoteStartTransaction": None}))
        api = Http(short)
        _, refused = reverse(api, api_token, "RemoteStartTransaction", METHODS["RemoteStartTransaction"])
        assert refused["status"] == "Rejected"
        box.cp.answers["RemoteStartTransaction"] = lambda p: call_result.RemoteStartTransaction(status="Accepted")
        assert reverse(api, api_token, "RemoteStartTransaction", METHODS["RemoteStartTransaction"])[1] == {
            "status": "Accepted"}

    def test_operations_api_on_a_silent_box_is_timed_out_in_bounded_time(self, world, short, library_box,
                                                                         celery_worker, api_token):
        boot(library_box("RV-1", base=short.replace("http://", "ws://") + "/ocpp/", answers={"ClearCache": None}))
        began = time.monotonic()
        code, body = Http(short).post_json("/api/v1/boxes/RV-1/commands", {"action": "ClearCache", "payload": {}},
                                           api_token)
        assert time.monotonic() - began < float(SHORT["OCPP_CALL_TIMEOUT"]) + 3
        assert (code, body["state"], body["error"]["code"]) == (200, "timed_out", "Timeout")

    def test_a_box_that_goes_away_mid_call_is_rejected_at_once(self, world, short, library_box, celery_worker,
                                                               api_token):
        box = boot(library_box("RV-1", base=short.replace("http://", "ws://") + "/ocpp/", answers={"Reset": None}))
        result = {}
        caller = threading.Thread(target=lambda: result.update(
            answer=reverse(Http(short), api_token, "Reset", METHODS["Reset"])))
        caller.start()
        box.wait_received("Reset")
        began = time.monotonic()
        box.close()
        caller.join(10)
        assert time.monotonic() - began < 1.5
        assert result["answer"][1]["status"] == "Rejected" and result["answer"][1]["message"]

    def test_without_a_celery_worker_the_answer_is_still_bounded(self, world, short, library_box, api_token):
        boot(library_box("RV-1", base=short.replace("http://", "ws://") + "/ocpp/"))
        began = time.monotonic()
        code, body = reverse(Http(short), api_token, "Reset", METHODS["Reset"])
        assert time.monotonic() - began < float(SHORT["REVERSE_API_TIMEOUT"]) + 0.5
        assert code == 200 and body["status"] == "Rejected" and body["message"]


def test_box_that_is_not_connected_is_rejected_at_once(world, http, api_token):
    for method, body in METHODS.items():
        began = time.monotonic()
        code, answer = reverse(http, api_token, method, body)
        assert time.monotonic() - began < 2
        assert code == 200 and answer["status"] == "Rejected" and answer["message"], (method, answer)


def test_rest_only_box_is_rejected_with_that_reason(world, http, api_token):
    assert http.post_json("/evchong-api/cperent/v1/heartbeat", {"chargeBoxSerialNumber": "RV-REST"})[0] == 200
    code, answer = reverse(http, api_token, "Reset", {"chargeBoxSerialNumber": "RV-REST", "type": "Hard"})
    assert code == 200 and answer["status"] == "Rejected" and "channel" in answer["message"]


def test_unknown_box_is_rejected_with_a_message(world, http, api_token):
    code, answer = reverse(http, api_token, "Reset", {"chargeBoxSerialNumber": "GHOST", "type": "Soft"})
    assert code == 200 and answer["status"] == "Rejected" and "GHOST" in answer["message"]
