"""Registration, boot and heartbeat of a Kotodian box over MQTT (DESIGN 3): through the real broker
and the bridge process, onto the same rows an OCPP box's would be."""

from chargers.models import ChargeBox, JournalEntry
from kotodian.proto import charger_pb2 as pb


def test_registration_is_accepted_with_the_serial_as_device_code(kotodian_box, make_box, serial):
    make_box(serial)
    box = kotodian_box(serial)
    topic, reply = box.reply(box.send("R", pb.ID_DeviceRegistrationReq, pb.DeviceRegistrationReq(
        partNumber="KT100", serialNumber=serial, vendorId="Kotodian")))
    assert topic == f"/D/R/{box.client_id}"
    assert reply.message_id == pb.ID_DeviceRegistrationConf
    assert (reply.message.status, reply.message.deviceCode) == (0, serial)
    # The same deviceCode every time.
    assert box.register().message.deviceCode == serial


def test_registration_code_must_be_the_box_password(kotodian_box, make_box, serial):
    make_box(serial, password="s3cret")
    box = kotodian_box(serial)
    wrong = box.register(code="guess").message
    assert wrong.status != 0 and "registration code" in wrong.reason and not wrong.deviceCode
    right = box.register(code="s3cret").message
    assert (right.status, right.deviceCode) == (0, serial)


def test_registration_of_an_unknown_serial_is_refused_with_a_reason(kotodian_box, serial):
    box = kotodian_box(serial)
    reply = box.register().message
    assert reply.status != 0 and "unknown charge box" in reply.reason


def test_boot_is_accepted_and_records_the_box(booted):
    row, box = booted
    row.refresh_from_db()
    assert row.protocol == "kotodian" and row.vendor == "Kotodian" and row.model == "KT100"
    assert row.firmware_version == "1.10.47" and row.iccid == "8986001"
    assert row.connected_node and row.last_boot is not None
    # The boot and its reply in the box's journal, readable.
    entries = list(JournalEntry.objects.filter(box=row, action="BootNotification").order_by("id"))
    assert [e.direction for e in entries] == ["in", "out"]
    assert '"firmwareVersion":"1.10.47"' in entries[0].payload and "ID_BootNotificationConf" in entries[1].payload


def test_boot_answers_the_interval_and_time(kotodian_box, make_box, serial):
    make_box(serial)
    box = kotodian_box(serial)
    box.register()
    reply = box.boot()
    assert reply.message_id == pb.ID_BootNotificationConf
    assert reply.message.status == 0 and reply.message.interval > 0 and reply.message.currentTime > 1_700_000_000


def test_boot_of_a_box_not_accepted_has_a_non_zero_status(kotodian_box, make_box, serial):
    make_box(serial)
    ChargeBox.objects.filter(serial=serial).update(registration_status="Pending")
    box = kotodian_box(serial)
    box.register()
    assert box.boot().message.status != 0
    assert not ChargeBox.objects.get(serial=serial).connected_node


def test_heartbeat_is_answered_and_is_a_sign_of_life(booted):
    row, box = booted
    reply = box.call("C", pb.ID_HeartbeatReq, pb.HeartbeatReq(currentTime=1_700_000_000, connectorId="1"))
    assert reply.message_id == pb.ID_HeartbeatConf and reply.message.connectorId == "1"
    row.refresh_from_db()
    assert row.is_online


def test_a_box_that_is_not_registered_is_refused_in_protocol_terms(kotodian_box, serial):
    box = kotodian_box(serial)
    reply = box.call("C", pb.ID_HeartbeatReq, pb.HeartbeatReq())
    assert reply.message_id == pb.ID_MessageError and reply.message.error == pb.EC_GenericError
    assert "unknown charge box" in reply.message.Description
    boot = box.boot()
    assert boot.message_id == pb.ID_BootNotificationConf and boot.message.status != 0


def test_wrong_registration_codes_are_limited_per_client_as_passwords_are(kotodian_box, make_box, serial,
                                                                            settings):
    """security.bruteforce: after BRUTE_FORCE_ACCOUNT_FAILURES wrong codes from one client id for one
    serial, that client is refused for it, the right code included, until the window ends; another
    box's registration is not touched."""
    make_box(serial, password="s3cret")
    box = kotodian_box(serial)
    for _ in range(settings.BRUTE_FORCE_ACCOUNT_FAILURES):
        assert "wrong registration code" in box.register(code="guess").message.reason
    refused = box.register(code="s3cret").message
    assert refused.status != 0 and not refused.deviceCode and "too many wrong registration codes" in refused.reason
    other_serial = f"{serial}B"
    make_box(other_serial, password="other")
    other = kotodian_box(other_serial).register(code="other").message
    assert (other.status, other.deviceCode) == (0, other_serial)


def test_a_right_registration_code_clears_the_count_of_wrong_ones(kotodian_box, make_box, serial, settings):
    make_box(serial, password="s3cret")
    box = kotodian_box(serial)
    for _ in range(2):
        for _ in range(settings.BRUTE_FORCE_ACCOUNT_FAILURES - 1):
            box.register(code="guess")
        assert box.register(code="s3cret").message.status == 0
