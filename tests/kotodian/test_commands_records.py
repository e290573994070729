"""What a Kotodian box keeps, fetched through the operations API: GetDiagnostics and GetLog (with
no location given, the box gets a place of its own on our FTP server, as `diagnosticsupload` opens
one), GetTransactions and GetWarning (the box says how many records it will send)."""

from kotodian_commands import booted_box, command

from commands.models import Command
from firmware.models import DiagnosticsUpload
from kotodian.proto import charger_pb2 as pb


def test_get_diagnostics_without_a_location_gets_one_of_ours(fast_server, api_token, celery_worker, kotodian_box,
                                                             make_box, serial):
    box = booted_box(kotodian_box, make_box, serial,
                     {pb.ID_GetDiagnosticsReq: pb.GetDiagnosticsConf(filename="diag-1.tar.gz")})
    code, body = command(fast_server, api_token, serial, "GetDiagnostics",
                         {"retries": 2, "startTime": "2026-12-01T00:00:00Z", "stopTime": "2026-12-02T00:00:00Z"})
    assert (body["state"], body["response"]) == ("accepted", {"status": "Accepted", "fileName": "diag-1.tar.gz"}), body
    upload = DiagnosticsUpload.objects.get(box__serial=serial)
    assert body["payload"]["location"] == upload.url
    request = box.requests.get(timeout=5).message
    assert (request.url, request.retries, request.startTime, request.endTime) == (
        upload.url, 2, 1796083200, 1796169600)


def test_get_diagnostics_to_a_location_given(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    box = booted_box(kotodian_box, make_box, serial, {pb.ID_GetDiagnosticsReq: pb.GetDiagnosticsConf()})
    code, body = command(fast_server, api_token, serial, "GetDiagnostics", {"location": "ftp://elsewhere/up/"})
    assert body["state"] == "accepted", body
    assert box.requests.get(timeout=5).message.url == "ftp://elsewhere/up/"
    assert not DiagnosticsUpload.objects.filter(box__serial=serial).exists()


def test_get_log(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    box = booted_box(kotodian_box, make_box, serial, {
        pb.ID_GetLogReq: pb.GetLogConf(status=pb.GetLogConf.AcceptedCanceled, fileName="security.log")})
    code, body = command(fast_server, api_token, serial, "GetLog", {
        "logType": "SecurityLog", "requestId": 9, "log": {"oldestTimestamp": "2026-12-01T00:00:00Z"}})
    # Accepted, the upload the box was making cancelled for this one.
    assert (body["state"], body["response"]["status"], body["response"]["filename"]) == (
        "accepted", "AcceptedCanceled", "security.log"), body
    upload = DiagnosticsUpload.objects.get(box__serial=serial)
    request = box.requests.get(timeout=5).message
    assert (request.logType, request.request_id, request.log.remote_location, request.log.start) == (
        pb.GetLogReq.SecurityLog, 9, upload.url, 1796083200)


def test_get_transactions_and_get_warning_count_what_follows(fast_server, api_token, celery_worker, kotodian_box,
                                                             make_box, serial):
    box = booted_box(kotodian_box, make_box, serial, {
        pb.ID_GetTransactionsReq: pb.GetTransactionsConf(totalCount=3),
        pb.ID_GetWarningReq: pb.GetWarningConf(totalCount=0)})
    code, body = command(fast_server, api_token, serial, "GetTransactions", {"connectorId": 2, "level": "Offline"})
    assert (body["state"], body["response"]) == ("accepted", {"status": "Accepted", "totalCount": 3}), body
    request = box.requests.get(timeout=5).message
    assert (request.connectorId, request.level) == ("2", 1)
    code, body = command(fast_server, api_token, serial, "GetWarning",
                         {"level": "Alert", "startTime": "2026-12-01T00:00:00Z"})
    assert (body["state"], body["response"]["totalCount"]) == ("accepted", 0), body
    request = box.requests.get(timeout=5).message
    assert (request.level, request.startTime) == (pb.WL_Alert, 1796083200)


def test_bad_requests_for_records_are_400(fast_server, api_token, kotodian_box, make_box, serial):
    booted_box(kotodian_box, make_box, serial, {})
    for action, payload, said in (
        ("GetDiagnostics", {"retries": "two"}, "retries"),
        ("GetLog", {}, "logType"),
        ("GetLog", {"logType": "SecurityLog", "log": {"where": "x"}}, "log.where"),
        ("GetTransactions", {"level": "Some"}, "level"),
        ("GetTransactions", {"endTime": "2099-01-01T00:00:00Z"}, "endTime"),  # an int32 upstream
        ("GetWarning", {"level": "Loud"}, "level"),
        ("GetWarning", {"startTime": "yesterday"}, "startTime"),
    ):
        code, body = command(fast_server, api_token, serial, action, payload)
        assert code == 400 and said in body["payload"][0], (action, body)
    assert not Command.objects.filter(box__serial=serial).exists()
    assert not DiagnosticsUpload.objects.filter(box__serial=serial).exists()
