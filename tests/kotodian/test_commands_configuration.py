"""Configuration and availability calls to a Kotodian box through the operations API, as OCPP's
names and payloads (DESIGN 3): ChangeConfiguration, GetConfiguration, TriggerMessage,
ChangeAvailability; each checked before it is sent, its Conf read back onto the command."""

from kotodian_commands import booted_box, command, http

from chargers.models import JournalEntry
from commands.models import Command
from kotodian import codec
from kotodian.proto import charger_pb2 as pb


def test_change_configuration_sends_the_key_and_reads_the_status(fast_server, api_token, celery_worker,
                                                                  kotodian_box, make_box, serial):
    box = booted_box(kotodian_box, make_box, serial,
                     {pb.ID_ChangeConfigurationReq: pb.ChangeConfigurationConf(status=pb.CFS_RebootRequired)})
    code, body = command(fast_server, api_token, serial, "ChangeConfiguration",
                         {"key": "HeartbeatInterval", "value": "60"})
    assert code == 200 and body["state"] == "accepted", body
    assert body["response"] == {"status": "RebootRequired", "kotodianStatus": 2}
    request = box.requests.get(timeout=5)
    assert request.message_id == pb.ID_ChangeConfigurationReq
    assert [(kv.key, kv.value) for kv in request.message.configurationKey] == [("HeartbeatInterval", "60")]


def test_a_refused_configuration_is_rejected(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    booted_box(kotodian_box, make_box, serial,
               {pb.ID_ChangeConfigurationReq: pb.ChangeConfigurationConf(status=pb.CFS_NotSupported)})
    code, body = command(fast_server, api_token, serial, "ChangeConfiguration", {"key": "Nope", "value": "1"})
    assert (body["state"], body["response"]["status"]) == ("rejected", "NotSupported"), body


def test_get_configuration_answers_as_ocpp_does(fast_server, api_token, celery_worker, kotodian_box, make_box,
                                                serial):
    box = booted_box(kotodian_box, make_box, serial, {pb.ID_GetConfigurationReq: pb.GetConfigurationConf(values=[
        pb.KeyValue(key="HeartbeatInterval", value="60", readonly=False),
        pb.KeyValue(key="ServerUrl", value="mqtt://x", readonly=True), pb.KeyValue(key="Unheard")])})
    code, body = command(fast_server, api_token, serial, "GetConfiguration",
                         {"key": ["HeartbeatInterval", "ServerUrl", "Unheard"]})
    assert body["state"] == "accepted", body
    assert body["response"]["configurationKey"] == [
        {"key": "HeartbeatInterval", "readonly": False, "value": "60"},
        {"key": "ServerUrl", "readonly": True, "value": "mqtt://x"}]
    assert body["response"]["unknownKey"] == ["Unheard"]
    assert [kv.key for kv in box.requests.get(timeout=5).message.keys] == ["HeartbeatInterval", "ServerUrl",
                                                                          "Unheard"]


def test_trigger_message_names_the_kotodian_request(fast_server, api_token, celery_worker, kotodian_box, make_box,
                                                    serial):
    box = booted_box(kotodian_box, make_box, serial, {pb.ID_TriggerMessageReq: pb.TriggerMessageConf(status=0)})
    code, body = command(fast_server, api_token, serial, "TriggerMessage",
                         {"requestedMessage": "StatusNotification", "connectorId": 2})
    assert body["state"] == "accepted", body
    request = box.requests.get(timeout=5).message
    assert (request.request, request.connectorId) == (pb.ID_StatusNotificationReq, "2")


def test_change_availability(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    box = booted_box(kotodian_box, make_box, serial,
                     {pb.ID_ChangeAvailabilityReq: pb.ChangeAvailabilityConf(status=pb.ChangeAvailabilityConf.Rejected)})
    code, body = command(fast_server, api_token, serial, "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert (body["state"], body["response"]["status"]) == ("rejected", "Rejected"), body
    request = box.requests.get(timeout=5).message
    assert (request.enabled, request.connectorId) == (False, "1")


def test_bad_payloads_are_400_naming_the_field_and_never_sent(fast_server, api_token, kotodian_box, make_box,
                                                             serial):
    box = booted_box(kotodian_box, make_box, serial, {})
    for action, payload, said in (
        ("ChangeConfiguration", {"key": "HeartbeatInterval"}, "value"),
        ("GetConfiguration", {"key": "HeartbeatInterval"}, "key"),
        ("TriggerMessage", {"requestedMessage": "Telepathy"}, "requestedMessage"),
        ("ChangeAvailability", {"connectorId": -1, "type": "Operative"}, "connectorId"),
        ("UnlockConnector", {"connectorId": 1}, "UnlockConnector"),  # OCPP has it, Kotodian has no such call
    ):
        code, body = command(fast_server, api_token, serial, action, payload)
        assert code == 400, (action, body)
        ((field, (message,)),) = body.items()
        assert field in ("payload", "action") and said in message, (action, body)
    assert not Command.objects.filter(box__serial=serial).exists()
    assert box.requests.empty()


def test_a_box_that_answers_with_an_error_fails_the_command(fast_server, api_token, celery_worker, kotodian_box,
                                                            make_box, serial, wait_for):
    box = booted_box(kotodian_box, make_box, serial, {})
    code, body = command(fast_server, api_token, serial, "ChangeConfiguration", {"key": "A", "value": "1"}, wait=False)
    assert code == 202, body
    # The box refuses the request with MessageError, as Kotodian's gateway does (kotodian-apdu 1.2).
    box.publish("C", codec.message_error(box.requests.get(timeout=5), pb.EC_InternalError, "flash busy"))
    wait_for(lambda: Command.objects.get(pk=body["id"]).state == "failed")
    code, body = http(fast_server, api_token, "GET", f"/api/v1/commands/{body['id']}")
    assert body["error"] == {"code": "EC_InternalError", "description": "flash busy"}


def test_a_box_that_does_not_answer_times_out(fast_server, api_token, celery_worker, kotodian_box, make_box, serial,
                                              wait_for):
    box = booted_box(kotodian_box, make_box, serial, {})
    code, body = command(fast_server, api_token, serial, "GetConfiguration", {})
    assert box.requests.get(timeout=5).message_id == pb.ID_GetConfigurationReq
    wait_for(lambda: Command.objects.get(box__serial=serial).state == "timed_out", timeout=15)
    wait_for(lambda: JournalEntry.objects.filter(box__serial=serial, action="GetConfiguration",
                                                 direction="out").exists())


def test_data_transfer(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    box = booted_box(kotodian_box, make_box, serial,
                     {pb.ID_DataTransferReq: pb.DataTransferConf(status=0, response='{"ok": 1}')})
    code, body = command(fast_server, api_token, serial, "DataTransfer",
                         {"vendorId": "Joysonquin", "messageId": "JQSetLed01", "data": "on"})
    assert (body["state"], body["response"]) == ("accepted", {"status": "Accepted", "kotodianStatus": 0,
                                                   "data": '{"ok": 1}'}), body
    request = box.requests.get(timeout=5).message
    assert (request.vendor_id, request.message_id, request.data) == ("Joysonquin", "JQSetLed01", "on")
