"""Byte examples. First the ones kotodian-apdu 1.6 gives (section 4: upstream has no test vectors of
its own, so 1.6 is what the document offers); then a few we computed by hand from the document's field
numbers and wire types, one for each rule that is easy to get wrong."""

from __future__ import annotations

from kotodian import codec
from kotodian.proto import charger_pb2 as pb

NOT_SUPPORTED = b"not supported".hex()

# kotodian-apdu 1.6, copied as written there.
HEARTBEAT_REQ = "08 80 e2 cf aa 06"
HEARTBEAT_REQ_APDU = "08 80 e2 cf aa 06 10 01 18 02 22 06 08 80 e2 cf aa 06"
HEARTBEAT_CONF_APDU = "08 81 e2 cf aa 06 10 01 18 82 01"
MESSAGE_ERROR = "08 01 12 0d" + NOT_SUPPORTED
# The document elides the tail ("..."): it can only be the MessageError above, 0x11 = 4 + 13 bytes long.
MESSAGE_ERROR_APDU = "08 81 e2 cf aa 06 10 07 18 ff 01 22 11 08 01 12 0d" + NOT_SUPPORTED


def wire(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text)


def test_heartbeat_req_of_section_1_6_is_current_time_alone():
    assert pb.HeartbeatReq(currentTime=1700000000).SerializeToString() == wire(HEARTBEAT_REQ)


def test_heartbeat_apdu_of_section_1_6_decodes_to_its_documented_values():
    apdu = codec.decode(wire(HEARTBEAT_REQ_APDU))
    assert (apdu.timestamp, apdu.sequence_id, apdu.message_id) == (1700000000, 1, 0x02)
    assert apdu.message == pb.HeartbeatReq(currentTime=1700000000)
    assert (apdu.name, apdu.action) == ("ID_HeartbeatReq", "Heartbeat")
    assert apdu.is_request and apdu.expects_reply and not apdu.sync


def test_heartbeat_apdu_of_section_1_6_is_what_encode_request_writes():
    message = pb.HeartbeatReq(currentTime=1700000000)
    assert codec.encode_request(pb.ID_HeartbeatReq, message, 1, timestamp=1700000000) == wire(HEARTBEAT_REQ_APDU)


def test_heartbeat_reply_of_section_1_6_has_a_two_byte_id_and_no_payload_field():
    request = codec.decode(wire(HEARTBEAT_REQ_APDU))
    assert codec.encode_reply(request, pb.HeartbeatResp(), timestamp=1700000001) == wire(HEARTBEAT_CONF_APDU)
    reply = codec.decode(wire(HEARTBEAT_CONF_APDU))
    assert (reply.timestamp, reply.sequence_id, reply.message_id) == (1700000001, 1, 0x82)
    assert reply.message == pb.HeartbeatResp() and reply.action == "Heartbeat"


def test_message_error_of_section_1_6_carries_the_code_and_the_capital_d_description():
    error = pb.MessageError(error=pb.EC_NotSupported, Description="not supported")
    assert error.SerializeToString() == wire(MESSAGE_ERROR)
    apdu = codec.decode(wire(MESSAGE_ERROR_APDU))
    assert (apdu.timestamp, apdu.sequence_id, apdu.message_id) == (1700000001, 7, 0xFF)
    assert (apdu.message.error, apdu.message.Description) == (pb.EC_NotSupported, "not supported")
    assert not apdu.is_request and apdu.reply_id is None


def test_message_error_of_section_1_6_is_what_message_error_writes_for_request_seven():
    request = codec.decode(codec.encode_request(pb.ID_HeartbeatReq, pb.HeartbeatReq(), 7))
    written = codec.message_error(request, pb.EC_NotSupported, "not supported", timestamp=1700000001)
    assert written == wire(MESSAGE_ERROR_APDU)


# Computed by hand from kotodian-apdu 1.1, 1.3 and Appendix A: key = field number << 3 | wire type.

def test_an_irregular_reply_id_0xba_is_a_two_byte_varint_and_an_empty_payload_is_absent():
    assert pb.APDU(sequenceId=3, messageId=0xBA).SerializeToString() == wire("10 03 18 ba 01")
    apdu = codec.decode(wire("10 03 18 ba 01"))
    assert apdu.message == pb.SendLocalAuthorizationListConf() and apdu.action == "SendLocalAuthorizationList"


def test_no_need_reply_is_field_5_and_sync_field_6_of_the_apdu():
    apdu = codec.decode(wire("18 22 28 01 30 01"))
    assert (apdu.message_id, apdu.no_need_reply, apdu.sync) == (pb.ID_MeterValuesReq, True, True)


def test_start_transaction_evse_id_is_field_17_though_declared_second():
    assert pb.StartTransactionReq(evseId="1").SerializeToString() == wire("8a 01 01 31")


def test_boot_notification_conf_base_url_is_field_19():
    assert pb.BootNotificationConf(baseURL="x").SerializeToString() == wire("9a 01 01 78")


def test_meter_stop_is_a_double_in_kwh():
    assert pb.StopTransactionReq(meterStop=12.5).SerializeToString() == wire("29 00 00 00 00 00 00 29 40")


def test_remote_stop_uses_the_v1_10_15_numbering_with_connector_id_first():
    message = pb.RemoteStopTransactionReq(connectorID="1", transactionId="42", reason=pb.SR_RemoteAdmin)
    assert message.SerializeToString() == wire("0a 01 31 12 02 34 32 18 04")


def test_tariff_uses_the_v1_10_44_numbering_with_sharp_at_field_5():
    assert pb.Tariff(sharp=1.5).SerializeToString() == wire("29 00 00 00 00 00 00 f8 3f")


def test_status_notification_connector_state_is_a_plain_int32_at_field_3():
    message = pb.StatusNotificationReq(connectorId="1", connectorState=2)
    assert message.SerializeToString() == wire("12 01 31 18 02")


def test_reset_travels_as_remote_control_function_reset():
    # DESIGN 3: Reset is RemoteControlReq (0x05) with function "Reset" and parameter "0" (hard).
    message = pb.RemoteControlReq(function="Reset", parameter="0")
    assert message.SerializeToString() == wire("0a 05" + b"Reset".hex() + "12 01 30")
    sent = codec.encode_request(pb.ID_RemoteControlReq, message, 9, timestamp=0)
    assert sent == wire("10 09 18 05 22 0a 0a 05" + b"Reset".hex() + "12 01 30")


def test_tariff_prices_travel_in_tenths_of_a_fen_as_in_the_documents_example():
    # kotodian-apdu 2.10: 0.8 CNY per kWh is elecprice 800; 07:00 is timestart 420 (minutes of the day).
    charge = pb.TariffCharge(timestart=420, timeend=1320, tag="flat", elecprice=800, serviceprice=400)
    body = "08 a4 03 10 a8 0a 1a 04" + b"flat".hex() + "20 a0 06 28 90 03"
    assert pb.SetTariffReq(chargetariffs=[charge]).SerializeToString() == wire("1a 12" + body)
