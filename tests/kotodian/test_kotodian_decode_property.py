"""Properties over generated input: whatever bytes arrive, decode either returns an Apdu or raises one
of the codec's own exceptions (never DecodeError, IndexError, UnicodeDecodeError, ...), so that one bad
MQTT message cannot take an edge down (DESIGN 5)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kotodian import codec
from kotodian.errors import CodecError, MalformedApdu
from kotodian.messages import MESSAGE_CLASSES, REQUEST_CLASSES
from kotodian.proto import charger_pb2 as pb

# The machine is small and shared: no deadline, a bounded number of examples.
PATIENT = settings(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])

UINT64 = st.integers(min_value=0, max_value=2**64 - 1)
INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)


@PATIENT
@given(st.binary(max_size=300))
def test_decode_of_arbitrary_bytes_raises_nothing_but_codec_errors(data):
    try:
        decoded = codec.decode(data)
    except CodecError as error:
        assert error.error_code is None or error.sequence_id is not None
    else:
        assert type(decoded.message) is MESSAGE_CLASSES[decoded.message_id]


@PATIENT
@given(message_id=st.sampled_from(sorted(MESSAGE_CLASSES)) | INT32, sequence_id=UINT64,
       payload=st.binary(max_size=200), sync=st.booleans())
def test_decode_of_a_sound_envelope_around_any_payload_keeps_the_sequence_id_when_it_refuses(
        message_id, sequence_id, payload, sync):
    data = pb.APDU(sequenceId=sequence_id, messageId=message_id, payload=payload, sync=sync).SerializeToString()
    try:
        decoded = codec.decode(data)
    except MalformedApdu:
        # Only an envelope with nothing in it is no APDU at all.
        assert data == b""
    except CodecError as error:
        assert (error.sequence_id, error.message_id, error.sync) == (sequence_id, message_id, sync)
        assert codec.decode(codec.error_reply(error)).sequence_id == sequence_id
    else:
        assert (decoded.sequence_id, decoded.message_id, decoded.sync) == (sequence_id, message_id, sync)


@PATIENT
@given(data=st.binary(min_size=1, max_size=200), cut=st.integers(min_value=0, max_value=199))
def test_decode_of_any_prefix_of_a_real_apdu_raises_nothing_but_codec_errors(data, cut):
    # Realistic breakage: a valid request with random payload bytes, cut anywhere.
    whole = pb.APDU(timestamp=1700000000, sequenceId=77, messageId=pb.ID_StartTransactionReq,
                    payload=data).SerializeToString()
    try:
        codec.decode(whole[:cut])
    except CodecError as error:
        # A cut between fields leaves a sound, shorter APDU: before field 2 it reads sequenceId 0 (proto3
        # defaults), after it 77; a cut inside a field leaves 77 if field 2 was read, else nothing.
        assert error.sequence_id in (None, 0, 77)


@PATIENT
@given(message_id=st.sampled_from(sorted(REQUEST_CLASSES)), sequence_id=UINT64,
       timestamp=st.integers(min_value=0, max_value=2**31 - 1), no_need_reply=st.booleans(), sync=st.booleans())
def test_every_envelope_field_survives_encode_and_decode(message_id, sequence_id, timestamp, no_need_reply, sync):
    message = REQUEST_CLASSES[message_id]()
    decoded = codec.decode(codec.encode_request(message_id, message, sequence_id, timestamp=timestamp,
                                                no_need_reply=no_need_reply, sync=sync))
    assert (decoded.message_id, decoded.sequence_id, decoded.timestamp, decoded.no_need_reply, decoded.sync) == (
        message_id, sequence_id, timestamp, no_need_reply, sync)
    assert decoded.message == message
