"""Reservations of a Kotodian box's connectors through the operations API: ReserveNow and
CancelReservation with OCPP's payloads, the reservation row settled by the box's Conf exactly as an
OCPP box's answer settles it (commands.effects), the reservationId ours to give."""

from datetime import timedelta

from django.utils import timezone
from kotodian_commands import booted_box, command

from chargers.models import Reservation
from kotodian.proto import charger_pb2 as pb


def later(hours=1) -> str:
    return (timezone.now() + timedelta(hours=hours)).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def test_an_accepted_reservation_holds_the_connector(fast_server, api_token, celery_worker, kotodian_box, make_box,
                                                     serial):
    box = booted_box(kotodian_box, make_box, serial, {pb.ID_ReserveNowReq: pb.ReserveNowConf(status=0)})
    expiry = later()
    code, body = command(fast_server, api_token, serial, "ReserveNow",
                         {"connectorId": 2, "idTag": "CARD-RES", "expiryDate": expiry})
    assert body["state"] == "accepted", body
    reservation = Reservation.objects.get(box__serial=serial)
    assert (reservation.state, reservation.connector_id, reservation.id_tag) == ("accepted", 2, "CARD-RES")
    request = box.requests.get(timeout=5).message
    assert (request.id, request.connector_id, request.idToken.id) == (reservation.pk, "2", "CARD-RES")
    assert request.expiry_date_time == int(reservation.expiry_date.timestamp())


def test_an_occupied_connector_refuses_and_settles_the_reservation(fast_server, api_token, celery_worker,
                                                                    kotodian_box, make_box, serial):
    booted_box(kotodian_box, make_box, serial,
               {pb.ID_ReserveNowReq: pb.ReserveNowConf(status=pb.ReserveNowConf.Occupied)})
    code, body = command(fast_server, api_token, serial, "ReserveNow",
                         {"connectorId": 1, "idTag": "CARD-RES", "expiryDate": later()})
    assert (body["state"], body["response"]["status"]) == ("rejected", "Occupied"), body
    reservation = Reservation.objects.get(box__serial=serial)
    assert (reservation.state, reservation.box_status) == ("rejected", "Occupied")


def test_cancel_reservation(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    box = booted_box(kotodian_box, make_box, serial, {pb.ID_ReserveNowReq: pb.ReserveNowConf(status=0),
                                                      pb.ID_CancelReservationReq: pb.CancelReservationConf(status=0)})
    command(fast_server, api_token, serial, "ReserveNow", {"connectorId": 1, "idTag": "CARD-C", "expiryDate": later()})
    reservation = Reservation.objects.get(box__serial=serial)
    code, body = command(fast_server, api_token, serial, "CancelReservation", {"reservationId": reservation.pk})
    assert body["state"] == "accepted", body
    reservation.refresh_from_db()
    assert reservation.state == "cancelled"
    box.requests.get(timeout=5)
    assert box.requests.get(timeout=5).message.id == reservation.pk


def test_a_refused_cancel_changes_nothing(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    booted_box(kotodian_box, make_box, serial, {
        pb.ID_ReserveNowReq: pb.ReserveNowConf(status=0),
        pb.ID_CancelReservationReq: pb.CancelReservationConf(status=pb.CancelReservationConf.Rejected)})
    command(fast_server, api_token, serial, "ReserveNow", {"connectorId": 1, "idTag": "CARD-C", "expiryDate": later()})
    reservation = Reservation.objects.get(box__serial=serial)
    code, body = command(fast_server, api_token, serial, "CancelReservation", {"reservationId": reservation.pk})
    assert body["state"] == "rejected", body
    reservation.refresh_from_db()
    assert reservation.state == "accepted"


def test_payloads_a_kotodian_reservation_cannot_carry_are_400(fast_server, api_token, kotodian_box, make_box, serial):
    booted_box(kotodian_box, make_box, serial, {})
    for payload, said in (
        ({"connectorId": 1, "idTag": "CARD", "expiryDate": later(), "parentIdTag": "P"}, "parentIdTag"),
        ({"connectorId": 1, "idTag": "CARD"}, "expiryDate"),
        ({"connectorId": 1, "idTag": "CARD", "expiryDate": "soon"}, "expiryDate"),
    ):
        code, body = command(fast_server, api_token, serial, "ReserveNow", payload)
        assert code == 400 and said in body["payload"][0], body
    code, body = command(fast_server, api_token, serial, "CancelReservation", {"reservationId": "one"})
    assert code == 400 and "reservationId" in body["payload"][0], body
    assert not Reservation.objects.filter(box__serial=serial).exists()


def test_a_silent_box_leaves_the_reservation_requested(fast_server, api_token, celery_worker, kotodian_box, make_box,
                                                       serial, wait_for):
    booted_box(kotodian_box, make_box, serial, {})
    code, body = command(fast_server, api_token, serial, "ReserveNow",
                         {"connectorId": 1, "idTag": "CARD", "expiryDate": later()})
    assert body["state"] == "timed_out", body
    assert Reservation.objects.get(box__serial=serial).state == "requested"  # the box may hold it or not
