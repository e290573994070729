"""Bad input from Kotodian boxes answered as DESIGN 3 says, and never the bridge's end: an unknown
messageId with EC_NotSupported, a payload that is not its message with EC_ProtocolError (both with
the request's sequenceId), an APDU that does not parse journaled and dropped."""

from chargers.models import JournalEntry
from kotodian import codec
from kotodian.proto import charger_pb2 as pb


def test_unknown_message_id_is_not_supported(booted):
    row, box = booted
    box.publish("C", pb.APDU(sequenceId=4242, messageId=0x7D, payload=b"\x08\x01").SerializeToString())
    topic, reply = box.reply(4242)
    assert topic == f"/D/C/{box.code}"
    assert reply.message_id == pb.ID_MessageError and reply.sequence_id == 4242
    assert reply.message.error == pb.EC_NotSupported


def test_a_known_message_the_system_does_not_take_is_not_supported(booted):
    row, box = booted
    # GetConfigurationReq is a message the system sends, not one it handles.
    reply = box.call("C", pb.ID_GetConfigurationReq, pb.GetConfigurationReq())
    assert reply.message_id == pb.ID_MessageError and reply.message.error == pb.EC_NotSupported


def test_payload_that_does_not_parse_is_a_protocol_error(booted):
    row, box = booted
    box.publish("C", pb.APDU(sequenceId=77, messageId=pb.ID_HeartbeatReq, payload=b"\x0a\xff").SerializeToString())
    topic, reply = box.reply(77)
    assert reply.message_id == pb.ID_MessageError and reply.sequence_id == 77
    assert reply.message.error == pb.EC_ProtocolError


def test_bytes_that_are_no_apdu_are_journaled_and_dropped_and_the_box_goes_on(booted, wait_for):
    row, box = booted
    box.publish("C", b"\xff\xff\xff garbage")
    wait_for(lambda: JournalEntry.objects.filter(box=row, payload__contains="undecodable").exists())
    assert box.no_reply(-1, wait=0.5)
    # Nothing else is disturbed: the same box is answered next.
    assert box.call("C", pb.ID_HeartbeatReq, pb.HeartbeatReq()).message_id == pb.ID_HeartbeatConf


def test_no_need_reply_is_handled_and_not_answered(booted, wait_for):
    row, box = booted
    sent = box.send("C", pb.ID_StatusNotificationReq, pb.StatusNotificationReq(connectorId="1", connectorState=5),
                    no_need_reply=True)
    assert box.no_reply(sent)
    wait_for(lambda: row.connectors.filter(connector_id=1, status="Preparing").exists())


def test_a_reply_apdu_is_decodable_by_the_box(booted):
    row, box = booted
    sequence_id = box.send("C", pb.ID_HeartbeatReq, pb.HeartbeatReq(connectorId="2"))
    topic, reply = box.reply(sequence_id)
    assert isinstance(reply, codec.Apdu) and reply.sequence_id == sequence_id and reply.timestamp > 0
