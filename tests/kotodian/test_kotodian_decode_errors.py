"""What decode raises for bad input, with the request's sequenceId whenever it can be read, and the
answer DESIGN 3 asks for: MessageError EC_NotSupported for an unknown messageId, EC_ProtocolError for a
payload that is not its message, nothing at all for bytes that are not an APDU."""

from __future__ import annotations

import pytest

from kotodian import codec
from kotodian.errors import CodecError, MalformedApdu, MalformedPayload, UnknownMessage
from kotodian.proto import charger_pb2 as pb

HEARTBEAT_REQ_APDU = bytes.fromhex("08 80 e2 cf aa 06 10 01 18 02 22 06 08 80 e2 cf aa 06")  # kotodian-apdu 1.6


def apdu(message_id: int, payload: bytes = b"", sequence_id: int = 42, **fields) -> bytes:
    return pb.APDU(timestamp=1700000000, sequenceId=sequence_id, messageId=message_id, payload=payload,
                   **fields).SerializeToString()


def answer_to(error: CodecError) -> codec.Apdu:
    return codec.decode(codec.error_reply(error, timestamp=1700000002))


@pytest.mark.parametrize("message_id", [0x17, 0x7F, 0xFE, 300, -5], ids=hex)
def test_an_unknown_message_id_raises_unknown_message_with_the_request_sequence_id(message_id):
    with pytest.raises(UnknownMessage) as raised:
        codec.decode(apdu(message_id, b"\x08\x01"))
    assert (raised.value.sequence_id, raised.value.message_id) == (42, message_id)
    assert raised.value.error_code == pb.EC_NotSupported


@pytest.mark.parametrize("message_id", [pb.ID_None, pb.ID_CustomerInformationReq, pb.ID_CustomerInformationConf],
                         ids=["ID_None", "ID_CustomerInformationReq", "ID_CustomerInformationConf"])
def test_an_id_of_the_enum_without_a_message_type_is_not_supported_either(message_id):
    with pytest.raises(UnknownMessage) as raised:
        codec.decode(apdu(message_id))
    assert raised.value.sequence_id == 42


def test_an_unknown_message_id_is_answered_with_not_supported_under_the_request_sequence_id():
    with pytest.raises(UnknownMessage) as raised:
        codec.decode(apdu(0x17, sequence_id=99))
    answer = answer_to(raised.value)
    assert (answer.message_id, answer.sequence_id, answer.timestamp) == (pb.ID_MessageError, 99, 1700000002)
    assert answer.message.error == pb.EC_NotSupported and "0x17" in answer.message.Description


@pytest.mark.parametrize("payload", [
    b"\x08",                 # a varint cut short
    b"\x0a\x05ab",           # a string longer than what follows
    b"\x0f",                 # wire type 7 does not exist
    b"\x00\x01",             # field number 0 does not exist
], ids=["cut varint", "short string", "wire type 7", "field 0"])
def test_a_payload_that_is_not_its_message_raises_malformed_payload_with_the_sequence_id(payload):
    with pytest.raises(MalformedPayload) as raised:
        codec.decode(apdu(pb.ID_HeartbeatReq, payload, sequence_id=9))
    assert (raised.value.sequence_id, raised.value.message_id) == (9, pb.ID_HeartbeatReq)
    assert raised.value.error_code == pb.EC_ProtocolError
    assert "HeartbeatReq" in str(raised.value)


def test_a_string_field_that_is_not_utf8_makes_the_payload_malformed():
    with pytest.raises(MalformedPayload):
        codec.decode(apdu(pb.ID_BootNotificationReq, b"\x12\x02\xff\xfe"))  # serialNumber


def test_a_malformed_payload_is_answered_with_protocol_error_under_the_request_sequence_id():
    with pytest.raises(MalformedPayload) as raised:
        codec.decode(apdu(pb.ID_StartTransactionReq, b"\x0a\x05ab", sequence_id=11, sync=True))
    answer = answer_to(raised.value)
    assert (answer.message_id, answer.sequence_id, answer.sync) == (pb.ID_MessageError, 11, True)
    assert answer.message.error == pb.EC_ProtocolError


def test_a_truncated_apdu_raises_malformed_apdu_keeping_the_ids_read_before_the_cut():
    with pytest.raises(MalformedApdu) as raised:
        codec.decode(HEARTBEAT_REQ_APDU[:-3])  # the payload's length says 6, 3 bytes follow
    assert (raised.value.sequence_id, raised.value.message_id) == (1, pb.ID_HeartbeatReq)
    assert raised.value.error_code is None


def test_an_apdu_cut_inside_its_first_field_has_no_readable_sequence_id():
    with pytest.raises(MalformedApdu) as raised:
        codec.decode(HEARTBEAT_REQ_APDU[:3])
    assert (raised.value.sequence_id, raised.value.message_id) == (None, None)


def test_an_apdu_cut_inside_a_two_byte_message_id_keeps_its_sequence_id():
    reply = bytes.fromhex("08 81 e2 cf aa 06 10 01 18 82 01")  # kotodian-apdu 1.6
    with pytest.raises(MalformedApdu) as raised:
        codec.decode(reply[:-1])
    assert (raised.value.sequence_id, raised.value.message_id) == (1, None)


@pytest.mark.parametrize("garbage", [b"\x00", b"\xff" * 11, b"\x07", b"\x0b\x14", b"\x10"],
                         ids=["field 0", "endless varint", "wire type 7", "mismatched group end", "cut varint"])
def test_garbage_raises_malformed_apdu(garbage):
    with pytest.raises(MalformedApdu):
        codec.decode(garbage)


def test_empty_bytes_are_not_an_apdu():
    with pytest.raises(MalformedApdu, match="empty"):
        codec.decode(b"")


def test_bytes_that_are_not_an_apdu_get_no_answer_even_with_a_readable_sequence_id():
    with pytest.raises(MalformedApdu) as raised:
        codec.decode(HEARTBEAT_REQ_APDU[:-3])
    assert codec.error_reply(raised.value) is None


def test_message_error_cannot_answer_a_request_whose_sequence_id_was_unreadable():
    with pytest.raises(ValueError, match="sequenceId"):
        codec.message_error(MalformedApdu("empty APDU"), pb.EC_GenericError, "x")


def test_message_error_refuses_a_code_that_error_code_does_not_define():
    request = codec.decode(HEARTBEAT_REQ_APDU)
    with pytest.raises(ValueError, match="ErrorCode"):
        codec.message_error(request, 5, "x")


def test_message_error_answers_a_decoded_request_with_any_documented_code():
    request = codec.decode(HEARTBEAT_REQ_APDU)
    answer = codec.decode(codec.message_error(request, pb.EC_InternalError, "database down"))
    assert (answer.sequence_id, answer.message.error, answer.message.Description) == (1, pb.EC_InternalError,
                                                                                      "database down")


def test_fields_a_newer_sender_adds_to_the_apdu_or_the_payload_are_ignored():
    payload = pb.HeartbeatReq(currentTime=5).SerializeToString() + b"\xf8\x07\x01"  # field 127, varint
    decoded = codec.decode(apdu(pb.ID_HeartbeatReq, payload) + b"\xa2\x06\x02hi")  # field 100, bytes
    assert decoded.message.currentTime == 5 and decoded.sequence_id == 42


def test_encode_request_refuses_a_message_of_another_type():
    with pytest.raises(TypeError, match="HeartbeatReq"):
        codec.encode_request(pb.ID_HeartbeatReq, pb.HeartbeatResp(), 1)


def test_encode_request_refuses_a_reply_id_and_an_id_without_a_message():
    with pytest.raises(ValueError):
        codec.encode_request(pb.ID_HeartbeatConf, pb.HeartbeatResp(), 1)
    with pytest.raises(ValueError):
        codec.encode_request(pb.ID_CustomerInformationReq, pb.HeartbeatReq(), 1)


def test_encode_reply_refuses_a_message_that_is_not_the_requests_reply_type():
    request = codec.decode(HEARTBEAT_REQ_APDU)
    with pytest.raises(TypeError, match="HeartbeatResp"):
        codec.encode_reply(request, pb.BootNotificationConf())


def test_encode_reply_refuses_to_answer_a_reply():
    reply = codec.decode(bytes.fromhex("08 81 e2 cf aa 06 10 01 18 82 01"))
    with pytest.raises(ValueError, match="has no reply"):
        codec.encode_reply(reply, pb.HeartbeatResp())
