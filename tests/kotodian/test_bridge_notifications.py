"""The rest of the uplink over the real broker: ReservationStatusUpdate onto the reservations,
LogStatusNotification as an upload status, reports kept in the journal, SignCertificate refused,
and every request only the central system sends refused with EC_NotSupported saying so."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chargers.models import JournalEntry, Reservation
from firmware.models import DiagnosticsStatusEvent
from kotodian.messages import EXCHANGES, action_name
from kotodian.notifications import SENT_BY_THE_SYSTEM
from kotodian.proto import charger_pb2 as pb


def reservation(row, state="accepted") -> Reservation:
    return Reservation.objects.create(box=row, connector_id=1, id_tag="CARD", state=state,
                                      expiry_date=timezone.now() + timedelta(hours=1))


@pytest.mark.parametrize(("status", "state"), [(pb.Expired, "expired"), (pb.Removed, "cancelled")])
def test_a_reservation_the_box_ended_ends_here(booted, status, state):
    row, box = booted
    held = reservation(row)
    answer = box.call("C", pb.ID_ReservationStatusUpdateReq, pb.ReservationStatusUpdateReq(id=held.pk, status=status))
    assert answer.message_id == pb.ID_ReservationStatusUpdateConf
    held.refresh_from_db()
    assert held.state == state and held.ended_at is not None


def test_a_reservation_used_already_or_unknown_is_acknowledged_and_left_alone(booted):
    row, box = booted
    used = reservation(row, state="used")
    for reservation_id in (used.pk, 2**40, 0):
        answer = box.call("C", pb.ID_ReservationStatusUpdateReq,
                          pb.ReservationStatusUpdateReq(id=reservation_id, status=pb.Expired))
        assert answer.message_id == pb.ID_ReservationStatusUpdateConf
    assert Reservation.objects.get(pk=used.pk).state == "used"


def test_a_reservation_status_outside_the_enum_is_a_type_violation(booted):
    row, box = booted
    held = reservation(row)
    answer = box.call("C", pb.ID_ReservationStatusUpdateReq, pb.ReservationStatusUpdateReq(id=held.pk, status=5))
    assert answer.message_id == pb.ID_MessageError and answer.message.error == pb.EC_TypeViolation
    assert Reservation.objects.get(pk=held.pk).state == "accepted"


def test_log_upload_statuses_are_recorded_as_upload_statuses(booted):
    row, box = booted
    for status in (pb.LogStatusNotificationReq.Uploading, pb.LogStatusNotificationReq.UploadFailure):
        answer = box.call("C", pb.ID_LogStatusNotificationReq, pb.LogStatusNotificationReq(status=status, request_id=9))
        assert answer.message_id == pb.ID_LogStatusNotificationConf
    assert list(DiagnosticsStatusEvent.objects.filter(box=row).order_by("id").values_list("status", flat=True)) == [
        "Uploading", "UploadFailed"]
    bad = box.call("C", pb.ID_LogStatusNotificationReq, pb.LogStatusNotificationReq(status=8))
    assert bad.message_id == pb.ID_MessageError and bad.message.error == pb.EC_TypeViolation


def test_reports_are_acknowledged_and_kept_decoded_in_the_journal(booted):
    row, box = booted
    report = box.call("C", pb.ID_NotifyReportReq, pb.NotifyReportReq(request_id=5, seq=0))
    assert report.message_id == pb.ID_NotifyReportConf
    profiles = box.call("C", pb.ID_ReportChargingProfileReq, pb.ReportChargingProfilesReq(tbc=False))
    assert profiles.message_id == pb.ID_ReportChargingProfileConf
    journal = JournalEntry.objects.filter(box=row, action="NotifyReport", direction="in").get()
    assert '"request_id":"5"' in journal.payload or '"request_id":5' in journal.payload


def test_sign_certificate_is_rejected(booted):
    row, box = booted
    answer = box.call("C", pb.ID_SignCertificateReq, pb.SignCertificateReq(csr="-----BEGIN CERTIFICATE REQUEST-----"))
    assert answer.message_id == pb.ID_SignCertificateConf
    assert answer.message.status == pb.SignCertificateConf.Rejected


def test_the_system_sent_requests_are_the_tables_downlink_ones():
    # Every request of the table is either handled or refused as one the central system sends.
    from kotodian.edge import HANDLERS

    requests = {action_name(row.request_id) for row in EXCHANGES if row.request is not None}
    assert SENT_BY_THE_SYSTEM <= requests
    assert requests - SENT_BY_THE_SYSTEM == set(HANDLERS)


@pytest.mark.parametrize("action", sorted(SENT_BY_THE_SYSTEM))
def test_a_request_only_the_system_sends_is_refused_as_such(booted, action):
    row, box = booted
    (exchange,) = [e for e in EXCHANGES if action_name(e.request_id) == action]
    answer = box.call("C", exchange.request_id, exchange.request())
    assert answer.message_id == pb.ID_MessageError and answer.message.error == pb.EC_NotSupported
    assert "sent by the central system" in answer.message.Description
