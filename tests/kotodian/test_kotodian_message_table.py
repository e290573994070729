"""kotodian.messages is the MessageID table of kotodian-apdu 1.3, and every request and reply in it
survives encode -> decode with its sequenceId."""

from __future__ import annotations

import pytest

import apdu_document
from kotodian import codec
from kotodian.messages import (
    EXCHANGES, MESSAGE_CLASSES, NO_REPLY, REPLY_CLASSES, REPLY_IDS, REQUEST_CLASSES, action_name, message_class,
    message_name,
)
from kotodian.proto import charger_pb2 as pb
from populate import populated

DOCUMENT = apdu_document.message_table()
ANSWERABLE = [row for row in EXCHANGES if row.request is not None and row.reply is not None]
UNANSWERED = [row for row in EXCHANGES if row.reply_id is None]


def test_every_request_of_the_document_has_its_reply_id_or_none():
    documented = {row.request_id: row.reply_id for row in DOCUMENT if row.request_id}  # ID_None is no request
    assert {row.request_id: row.reply_id for row in EXCHANGES} == documented


def test_every_id_carries_the_message_type_the_document_names():
    for row in DOCUMENT:
        for message_id, documented in ((row.request_id, row.request_type), (row.reply_id, row.reply_type)):
            if message_id is None or message_id == pb.ID_UpdateIdCardCacheConf:
                continue
            cls = message_class(message_id)
            assert (cls.DESCRIPTOR.name if cls else None) == documented, hex(message_id)


def test_the_reply_to_update_id_card_cache_is_our_empty_message_since_upstream_defines_none():
    assert message_class(pb.ID_UpdateIdCardCacheConf) is pb.UpdateIdCardCacheConf


def test_every_id_is_named_as_the_document_names_it():
    for row in DOCUMENT:
        if row.request_id is not None:
            assert message_name(row.request_id) == row.request_name
        if row.reply_id is not None:
            assert message_name(row.reply_id) == row.reply_name


def test_seven_replies_break_the_plus_0x80_rule_exactly_as_section_1_2_lists_them():
    irregular = {request: reply for request, reply in REPLY_IDS.items() if reply != request + 0x80}
    assert irregular == {0x40: 0xBA, 0x41: 0xBB, 0x42: 0xBC, 0x43: 0xBD, 0x44: 0xBE, 0x45: 0xBF, 0x50: 0xCA}


def test_four_requests_have_no_reply_diagnostics_status_telemetry_meter_values_and_charging_info():
    assert NO_REPLY == {0x09, 0x21, 0x22, 0x23}
    assert not NO_REPLY & set(REPLY_IDS)


def test_message_error_answers_any_request_under_0xff():
    assert REPLY_CLASSES[0xFF] is pb.MessageError


def test_ids_without_a_message_type_have_no_class():
    for message_id in (pb.ID_None, pb.ID_CustomerInformationReq, pb.ID_CustomerInformationConf, 0x17, 0xFE):
        assert message_class(message_id) is None


def test_requests_are_under_0x80_and_replies_from_0x80_on():
    assert all(message_id < 0x80 for message_id in REQUEST_CLASSES)
    assert all(message_id >= 0x80 for message_id in REPLY_CLASSES)
    assert len(MESSAGE_CLASSES) == len(REQUEST_CLASSES) + len(REPLY_CLASSES)


def test_action_names_drop_the_id_prefix_and_the_req_or_conf_suffix_like_upstream():
    assert action_name(pb.ID_HeartbeatReq) == action_name(pb.ID_HeartbeatConf) == "Heartbeat"
    assert action_name(pb.ID_DataTransferConf) == "DataTransfer"
    assert action_name(pb.ID_MessageError) == "MessageError"


def test_an_id_unknown_to_the_protocol_is_named_by_its_hex_value():
    assert message_name(0x17) == "0x17"


@pytest.mark.parametrize("row", ANSWERABLE, ids=lambda row: row.request.DESCRIPTOR.name)
def test_request_and_reply_survive_the_round_trip_with_the_request_sequence_id(row):
    request = populated(row.request)
    wire = codec.encode_request(row.request_id, request, sequence_id=2**64 - 2, timestamp=1700000000)
    received = codec.decode(wire)
    assert (received.message_id, received.sequence_id, received.timestamp) == (row.request_id, 2**64 - 2, 1700000000)
    assert received.message == request
    assert received.is_request and received.expects_reply and received.reply_id == row.reply_id

    reply = populated(row.reply, seed=7)
    answered = codec.decode(codec.encode_reply(received, reply, timestamp=1700000001))
    assert (answered.message_id, answered.sequence_id, answered.timestamp) == (row.reply_id, 2**64 - 2, 1700000001)
    assert answered.message == reply
    assert not answered.is_request and answered.reply_id is None


@pytest.mark.parametrize("row", UNANSWERED, ids=lambda row: row.request.DESCRIPTOR.name)
def test_a_request_without_reply_survives_the_round_trip_and_cannot_be_answered(row):
    request = populated(row.request)
    received = codec.decode(codec.encode_request(row.request_id, request, sequence_id=5, timestamp=1700000000))
    assert received.message == request and received.sequence_id == 5
    assert received.is_request and not received.expects_reply
    with pytest.raises(ValueError, match="has no reply"):
        codec.encode_reply(received, pb.MessageError())


def test_a_request_marked_no_need_reply_expects_none_though_its_id_has_a_reply():
    message = pb.StatusNotificationReq(connectorId="1", connectorState=1)
    wire = codec.encode_request(pb.ID_StatusNotificationReq, message, sequence_id=3, no_need_reply=True)
    received = codec.decode(wire)
    assert received.no_need_reply and received.reply_id == pb.ID_StatusNotificationConf
    assert not received.expects_reply


def test_a_reply_keeps_the_sync_flag_of_its_request_as_the_gateway_reuses_the_request_apdu():
    wire = codec.encode_request(pb.ID_BootNotificationReq, pb.BootNotificationReq(serialNumber="S1"), 8, sync=True)
    reply = codec.decode(codec.encode_reply(codec.decode(wire), pb.BootNotificationConf(status=0, interval=60)))
    assert reply.sync and reply.sequence_id == 8 and reply.message.interval == 60
