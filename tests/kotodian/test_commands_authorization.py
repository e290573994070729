"""What a Kotodian box knows of id tags, set through the operations API: SendLocalList (OCPP's name
for SendLocalAuthorizationList; the local list we keep follows the box's yes, as for OCPP),
UpdateIdCardCache and ClearCache (Kotodian's and OCPP's)."""

from kotodian_commands import booted_box, command

from chargers.models import LocalAuthList
from commands.models import Command
from kotodian.proto import charger_pb2 as pb


def test_send_local_list_reaches_the_box_and_our_copy(fast_server, api_token, celery_worker, kotodian_box, make_box,
                                                      serial):
    box = booted_box(kotodian_box, make_box, serial,
                     {pb.ID_SendLocalAuthorizationListReq: pb.SendLocalAuthorizationListConf(status=0)})
    code, body = command(fast_server, api_token, serial, "SendLocalList", {
        "listVersion": 7, "updateType": "Full", "localAuthorizationList": [
            {"idTag": "CARD-A", "idTagInfo": {"status": "Accepted", "expiryDate": "2030-01-01T00:00:00Z"}},
            {"idTag": "CARD-B", "idTagInfo": {"status": "Blocked"}}]})
    assert body["state"] == "accepted", body
    request = box.requests.get(timeout=5).message
    assert (request.version_number, request.update_type) == (7, pb.SendLocalAuthorizationListReq.Full)
    assert [(d.idToken.id, d.idToken.status, d.idToken.expiryDate) for d in request.local_authorization_list] == [
        ("CARD-A", pb.AS_Accepted, 1893456000), ("CARD-B", pb.AS_Blocked, 0)]
    auth_list = LocalAuthList.objects.get(box__serial=serial)
    assert auth_list.version == 7
    assert dict(auth_list.entries.values_list("id_tag", "status")) == {"CARD-A": "Accepted", "CARD-B": "Blocked"}


def test_a_refused_list_leaves_our_copy_alone(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    booted_box(kotodian_box, make_box, serial, {pb.ID_SendLocalAuthorizationListReq: pb.SendLocalAuthorizationListConf(
        status=pb.SendLocalAuthorizationListConf.Rejected)})
    code, body = command(fast_server, api_token, serial, "SendLocalList", {
        "listVersion": 1, "updateType": "Full", "localAuthorizationList": [
            {"idTag": "CARD-A", "idTagInfo": {"status": "Accepted"}}]})
    assert body["state"] == "rejected", body
    assert not LocalAuthList.objects.filter(box__serial=serial, version__isnull=False).exists()


def test_update_id_card_cache(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    box = booted_box(kotodian_box, make_box, serial, {pb.ID_UpdateIdCardCacheReq: pb.UpdateIdCardCacheConf()})
    code, body = command(fast_server, api_token, serial, "UpdateIdCardCache", {"idTags": [
        {"idTag": "CARD-X", "idTagInfo": {"status": "Expired"}}]})
    assert (body["state"], body["response"]) == ("accepted", {"status": "Accepted"}), body
    (card,) = box.requests.get(timeout=5).message.cardinfo
    assert (card.id, card.status) == ("CARD-X", pb.AS_Expired)


def test_clear_cache(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    box = booted_box(kotodian_box, make_box, serial, {pb.ID_ClearCacheReq: pb.ClearCacheConf(status=1)})
    code, body = command(fast_server, api_token, serial, "ClearCache", {})
    assert (body["state"], body["response"]["status"]) == ("rejected", "Rejected"), body
    assert box.requests.get(timeout=5).message_id == pb.ID_ClearCacheReq


def test_lists_a_kotodian_box_cannot_hold_are_400(fast_server, api_token, kotodian_box, make_box, serial):
    booted_box(kotodian_box, make_box, serial, {})
    for action, payload, said in (
        # Kotodian's list has no removal: an entry without idTagInfo cannot be said.
        ("SendLocalList", {"listVersion": 2, "updateType": "Differential",
                           "localAuthorizationList": [{"idTag": "CARD-A"}]}, "localAuthorizationList[0].idTagInfo"),
        ("SendLocalList", {"listVersion": 2, "updateType": "Full", "localAuthorizationList": [
            {"idTag": "CARD-A", "idTagInfo": {"status": "Accepted", "parentIdTag": "P"}}]}, "parentIdTag"),
        ("SendLocalList", {"listVersion": "2", "updateType": "Full"}, "listVersion"),
        ("UpdateIdCardCache", {"idTags": []}, "idTags"),
        ("UpdateIdCardCache", {"idTags": [{"idTag": "C" * 21, "idTagInfo": {"status": "Accepted"}}]}, "idTag"),
        ("UpdateIdCardCache", {"idTags": [{"idTag": "C", "idTagInfo": {"status": "Maybe"}}]}, "status"),
        ("ClearCache", {"all": True}, "all"),
    ):
        code, body = command(fast_server, api_token, serial, action, payload)
        assert code == 400 and said in body["payload"][0], (action, body)
    assert not Command.objects.filter(box__serial=serial).exists()
