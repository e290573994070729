"""The REST API's lists and edits (operations.api, issue 24): sessions, id tags, stations,
reservations, alarms and boxes, with the read API's token, pages ({"results", "next"}) and errors."""

import csv
import io
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from chargers.models import Alarm, ChargeBox, IdTag, Reservation
from chargers.presence import process_lease_renew
from chargers.services import connector_status_report
from commands.models import Command
from staff import PASSWORD
from transactions.services import transaction_start, transaction_stop


@pytest.fixture
def api(db):
    out = io.StringIO()
    call_command("apitoken", "integrator", stdout=out)
    return Client(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")


NEW_YEAR_2030 = datetime(2030, 1, 1, tzinfo=dt_timezone.utc)


def staff_client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def sessions(make_box, make_tag):
    """Three sessions on RA-1 (the last one running) and one on RA-2, an hour apart."""
    one, two = make_box("RA-1", connectors=2), make_box("RA-2", connectors=1)
    make_tag("CARD-A")
    make_tag("CARD-B")
    start = timezone.now() - timedelta(hours=5)
    made = []
    for n, (box, tag) in enumerate([(one, "CARD-A"), (one, "CARD-B"), (two, "CARD-A"), (one, "CARD-A")]):
        at = start + timedelta(hours=n)
        tx = transaction_start(box=box, connector_id=1, id_tag=tag, meter_start_wh=0, timestamp=at).transaction
        if n < 3:
            transaction_stop(box=box, transaction_id=tx.id, meter_stop_wh=1000, timestamp=at + timedelta(minutes=30))
        made.append(tx.id)
    return start, made


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"results", "next"}
    return [item["id"] for item in body["results"]]


def test_sessions_by_box_id_tag_time_and_state(api, sessions):
    start, (first, second, other_box, running) = sessions
    assert ids(api.get("/api/v1/transactions")) == [running, other_box, second, first]
    assert ids(api.get("/api/v1/transactions", {"box": "RA-1"})) == [running, second, first]
    assert ids(api.get("/api/v1/transactions", {"idTag": "CARD-A", "box": "RA-1"})) == [running, first]
    window = {"from": (start + timedelta(minutes=30)).isoformat(), "to": (start + timedelta(hours=2, minutes=30)).isoformat()}
    assert ids(api.get("/api/v1/transactions", window)) == [other_box, second]
    assert ids(api.get("/api/v1/transactions", {"state": "active"})) == [running]
    assert ids(api.get("/api/v1/transactions", {"state": "stopped", "box": "RA-2"})) == [other_box]
    assert ids(api.get("/api/v1/transactions", {"box": "NO-SUCH-BOX"})) == []
    session = api.get("/api/v1/transactions", {"state": "active"}).json()["results"][0]
    assert session["box"] == "RA-1" and session["stoppedAt"] is None and "meterValues" not in session


def test_session_filters_refuse_bad_values_naming_the_parameter(api, sessions):
    response = api.get("/api/v1/transactions", {"from": "yesterday", "state": "paused"})
    assert response.status_code == 400
    assert set(response.json()) == {"from", "state"}
    assert api.get("/api/v1/transactions", {"box": "A\x00B"}).status_code == 400


def test_sessions_page_by_cursor(api, sessions):
    from transactions.api import NewestFirst

    NewestFirst.page_size, size = 3, NewestFirst.page_size
    try:
        first = api.get("/api/v1/transactions").json()
        rest = api.get(first["next"]).json()
    finally:
        NewestFirst.page_size = size
    assert len(first["results"]) == 3 and rest["next"] is None
    assert [s["id"] for s in first["results"] + rest["results"]] == sorted(sessions[1], reverse=True)


def test_sessions_as_csv_with_the_same_filters(api, sessions):
    _, (first, second, _, running) = sessions
    response = api.get("/api/v1/transactions.csv", {"box": "RA-1", "state": "stopped"}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response).decode())))
    assert [int(row["id"]) for row in rows] == [second, first]
    assert rows[0]["energy_wh"] == "1000" and rows[0]["box"] == "RA-1"
    bad = api.get("/api/v1/transactions.csv", {"state": "paused"}, HTTP_ACCEPT="text/csv")
    assert bad.status_code == 400 and "state" in bad.json()
    meter_values = api.get(f"/api/v1/transactions/{running}/metervalues.csv")
    assert meter_values.status_code == 200
    assert b"".join(meter_values).decode().startswith("timestamp,measurand,value")
    assert api.get("/api/v1/transactions/999999/metervalues.csv").status_code == 404


def test_lists_need_a_token(db):
    response = Client().get("/api/v1/transactions")
    assert response.status_code == 401 and "detail" in response.json()


def test_field_engineers_see_sessions_but_not_id_tags(field_engineer, sessions):
    client = staff_client(field_engineer)
    assert client.get("/api/v1/transactions").status_code == 200
    assert client.get("/api/v1/idtags").status_code == 403
    assert client.post("/api/v1/idtags", {"idTag": "NEW"}, content_type="application/json").status_code == 403


def test_operations_edit_id_tags(operations_user):
    client = staff_client(operations_user)
    response = client.post("/api/v1/idtags", {"idTag": "OPS-1"}, content_type="application/json")
    assert response.status_code == 201 and response.json()["status"] == "Accepted"


def test_id_tag_create_read_update_block_delete(api, make_tag):
    make_tag("FLEET")
    created = api.post("/api/v1/idtags", {"idTag": "CAR-1", "expiry": "2030-01-01T00:00:00Z", "parent": "FLEET",
                                          "note": "van"}, content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert datetime.fromisoformat(body["expiry"]) == NEW_YEAR_2030
    assert body | {"created": None, "expiry": None} == {"idTag": "CAR-1", "status": "Accepted", "expiry": None,
                                                        "parent": "FLEET", "note": "van", "created": None}
    assert api.post("/api/v1/idtags", {"idTag": "CAR-1"}, content_type="application/json").status_code == 409

    patched = api.patch("/api/v1/idtags/CAR-1", {"note": "lorry"}, content_type="application/json").json()
    assert (patched["note"], patched["parent"]) == ("lorry", "FLEET")
    assert datetime.fromisoformat(patched["expiry"]) == NEW_YEAR_2030
    replaced = api.put("/api/v1/idtags/CAR-1", {"status": "Expired"}, content_type="application/json").json()
    assert (replaced["status"], replaced["parent"], replaced["expiry"], replaced["note"]) == ("Expired", None, None, "")

    assert api.post("/api/v1/idtags/CAR-1/block").json()["status"] == "Blocked"
    assert IdTag.objects.get(id_tag="CAR-1").status == "Blocked"
    assert api.get("/api/v1/idtags/CAR-1").json()["status"] == "Blocked"
    assert ids_of_tags(api.get("/api/v1/idtags", {"status": "Blocked"})) == ["CAR-1"]

    assert api.delete("/api/v1/idtags/CAR-1").status_code == 204
    assert not IdTag.objects.filter(id_tag="CAR-1").exists()
    assert api.get("/api/v1/idtags/CAR-1").status_code == 404
    assert api.post("/api/v1/idtags/CAR-1/block").status_code == 404


def ids_of_tags(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [tag["idTag"] for tag in response.json()["results"]]


def test_id_tag_input_is_checked_by_the_import_rules(api, make_tag):
    response = api.post("/api/v1/idtags", {"idTag": "X" * 21, "expiry": "soon", "parent": "GHOST"},
                        content_type="application/json")
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"idTag", "expiry"}
    assert "1 to 20 characters" in errors["idTag"][0]
    unknown_parent = api.post("/api/v1/idtags", {"idTag": "ORPHAN", "parent": "GHOST"}, content_type="application/json")
    assert unknown_parent.status_code == 400 and "GHOST" in unknown_parent.json()["parent"][0]
    assert api.post("/api/v1/idtags", {"status": "Accepted"}, content_type="application/json").json() == {
        "idTag": ["This field is required."]}
    assert api.post("/api/v1/idtags", {"idTag": "S", "status": "ConcurrentTx"},
                    content_type="application/json").status_code == 400
    assert api.post("/api/v1/idtags", "not json", content_type="application/json").status_code == 400
    make_tag("KEEP")
    assert api.put("/api/v1/idtags/KEEP", {"idTag": "OTHER"}, content_type="application/json").status_code == 400
    assert api.patch("/api/v1/idtags/KEEP", {"parent": "KEEP"}, content_type="application/json").status_code == 400
    assert not IdTag.objects.filter(id_tag__in=["ORPHAN", "S", "OTHER"]).exists()


def test_id_tags_import_as_csv_or_json_all_or_nothing(api, make_tag):
    make_tag("OLD")
    bad = "id_tag,status,parent\nNEW-1,Accepted,\nNEW-2,Sometimes,\n"
    response = api.post("/api/v1/idtag-imports", bad, content_type="text/csv")
    assert response.status_code == 400
    assert response.json() == {"errors": ["line 3: status 'Sometimes' is not one of Accepted, Blocked, Expired, Invalid"]}
    assert not IdTag.objects.filter(id_tag__startswith="NEW").exists()

    good = "\ufeffid_tag,status,parent\nNEW-1,Accepted,GROUP\nGROUP,Blocked,\nOLD,Expired,\n"
    assert api.post("/api/v1/idtag-imports", good.encode(), content_type="text/csv").json() == {"created": 2, "updated": 1}
    assert IdTag.objects.get(id_tag="NEW-1").parent.id_tag == "GROUP"

    items = [{"idTag": "J-1", "parent": "GROUP"}, {"idTag": "J-2", "status": "Blocked", "expiry": None}]
    assert api.post("/api/v1/idtag-imports", items, content_type="application/json").json() == {"created": 2, "updated": 0}
    wrong = api.post("/api/v1/idtag-imports", [{"idTag": "J-3"}, {"idTag": "J-3", "note": "again"}],
                     content_type="application/json")
    assert wrong.status_code == 400 and wrong.json() == {"errors": ["item 2: id_tag 'J-3' appears twice"]}
    assert api.post("/api/v1/idtag-imports", [1], content_type="application/json").json() == {
        "errors": ["item 1: not an object"]}
    assert api.post("/api/v1/idtag-imports", {"idTag": "J-4"}, content_type="application/json").status_code == 400
    assert api.post("/api/v1/idtag-imports", b"\xff\xfe", content_type="text/csv").status_code == 400
    assert not IdTag.objects.filter(id_tag__in=["J-3", "J-4"]).exists()


def test_stations_with_their_boxes_and_tariff(api, make_box):
    make_box("ST-B", station="ST-1")
    make_box("ST-A", station="ST-1")
    make_box("ALONE")
    call_command("addtariff", "T-1", "--period", "00:00-00:00=1+0.5", "--station", "ST-1", stdout=io.StringIO())
    stations = api.get("/api/v1/stations").json()["results"]
    assert [(s["code"], [b["serial"] for b in s["boxes"]], s["tariff"]) for s in stations] == [
        ("ST-1", ["ST-A", "ST-B"], "T-1")]
    one = api.get("/api/v1/stations/ST-1").json()
    assert one["boxes"][0] == {"serial": "ST-A", "online": False, "registrationStatus": "Accepted"}
    assert api.get("/api/v1/stations/NOPE").status_code == 404
    assert api.get("/api/v1/stations/A%00B").status_code == 404


@pytest.fixture
def reservations(make_connected_box):
    box = make_connected_box("RS-1")
    expiry = timezone.now() + timedelta(hours=1)
    held = Reservation.objects.create(box=box, connector_id=1, id_tag="CARD", expiry_date=expiry, state="accepted")
    ended = Reservation.objects.create(box=box, connector_id=2, id_tag="OTHER", expiry_date=expiry, state="used",
                                       ended_at=timezone.now())
    return held, ended


def test_reservations_read_and_filtered(api, reservations):
    held, ended = reservations
    assert ids(api.get("/api/v1/reservations")) == [ended.id, held.id]
    assert ids(api.get("/api/v1/reservations", {"state": "accepted", "box": "RS-1"})) == [held.id]
    assert ids(api.get("/api/v1/reservations", {"idTag": "OTHER"})) == [ended.id]
    body = api.get(f"/api/v1/reservations/{held.id}").json()
    assert body | {"created": None, "expiryDate": None} == {
        "id": held.id, "box": "RS-1", "connectorId": 1, "idTag": "CARD", "parentIdTag": "", "expiryDate": None,
        "state": "accepted", "boxStatus": "", "transactionId": None, "created": None, "endedAt": None}
    assert api.get("/api/v1/reservations", {"state": "gone"}).status_code == 400


def test_cancelling_a_reservation_sends_cancel_reservation(api, reservations, field_engineer):
    held, ended = reservations
    response = api.post(f"/api/v1/reservations/{held.id}/cancel")
    assert response.status_code == 202, response.content
    command = Command.objects.get(pk=response.json()["id"])
    assert (command.action, command.payload, command.box.serial) == ("CancelReservation", {"reservationId": held.id},
                                                                     "RS-1")
    assert api.post(f"/api/v1/reservations/{ended.id}/cancel").status_code == 409
    assert api.post("/api/v1/reservations/999999/cancel").status_code == 404
    # Field engineers see reservations but may not send CancelReservation (commands.roles).
    assert staff_client(field_engineer).post(f"/api/v1/reservations/{held.id}/cancel").status_code == 403


def test_alarms_open_and_cleared_by_box(api, make_box):
    box = make_box("AL-1", connectors=2)
    make_box("AL-2")
    connector_status_report(box=box, connector_id=1, status="Faulted", error_code="GroundFailure", timestamp=None)
    connector_status_report(box=box, connector_id=2, status="Faulted", error_code="HighTemperature", timestamp=None)
    connector_status_report(box=box, connector_id=1, status="Available", error_code="NoError", timestamp=None)
    cleared, still = Alarm.objects.order_by("id")
    assert ids(api.get("/api/v1/alarms", {"box": "AL-1"})) == [still.id, cleared.id]
    assert ids(api.get("/api/v1/alarms", {"state": "open"})) == [still.id]
    assert ids(api.get("/api/v1/alarms", {"state": "cleared", "errorCode": "GroundFailure"})) == [cleared.id]
    assert ids(api.get("/api/v1/alarms", {"box": "AL-2"})) == []
    body = api.get(f"/api/v1/alarms/{still.id}").json()
    assert (body["open"], body["cleared"], body["notifyOperations"], body["errorCode"]) == (
        True, None, True, "HighTemperature")
    assert api.get("/api/v1/alarms", {"state": "sleeping"}).status_code == 400


def test_boxes_by_state_approve_and_password(api, make_box, make_connected_box):
    make_box("BX-ACC", station="S-9")
    make_connected_box("BX-ON")
    ChargeBox.objects.filter(serial="BX-ON").update(last_seen=timezone.now())
    # Online means connected: to a server process whose lease lasts (chargers.presence).
    process_lease_renew(node="test-node", seconds=60)
    pending = ChargeBox.objects.create(serial="BX-PEND", registration_status="Pending")

    listed = api.get("/api/v1/boxes").json()["results"]
    assert {b["serial"] for b in listed} == {"BX-ACC", "BX-ON", "BX-PEND"}
    assert ids_of_boxes(api.get("/api/v1/boxes", {"registrationStatus": "Pending"})) == ["BX-PEND"]
    assert ids_of_boxes(api.get("/api/v1/boxes", {"online": "true"})) == ["BX-ON"]
    assert sorted(ids_of_boxes(api.get("/api/v1/boxes", {"online": "false"}))) == ["BX-ACC", "BX-PEND"]
    assert ids_of_boxes(api.get("/api/v1/boxes", {"station": "S-9"})) == ["BX-ACC"]
    assert api.get("/api/v1/boxes", {"online": "maybe"}).status_code == 400

    approved = api.post("/api/v1/boxes/BX-PEND/approve")
    assert approved.status_code == 200 and approved.json()["registrationStatus"] == "Accepted"
    pending.refresh_from_db()
    assert pending.registration_status == "Accepted"
    assert api.post("/api/v1/boxes/BX-PEND/approve").status_code == 409
    assert api.post("/api/v1/boxes/NOPE/approve").status_code == 404

    assert api.put("/api/v1/boxes/BX-ACC/password", {"password": "s3cret-pass"},
                   content_type="application/json").status_code == 204
    box = ChargeBox.objects.get(serial="BX-ACC")
    assert box.check_password("s3cret-pass") and not box.check_password("other")
    assert api.put("/api/v1/boxes/BX-ACC/password", {"password": ""}, content_type="application/json").json() == {
        "password": ["This field may not be blank."]}
    assert api.put("/api/v1/boxes/BX-ACC/password", {"password": None}, content_type="application/json").status_code == 204
    assert not ChargeBox.objects.get(serial="BX-ACC").requires_auth


def ids_of_boxes(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [box["serial"] for box in response.json()["results"]]


def test_field_engineers_may_not_approve_boxes(field_engineer, db):
    ChargeBox.objects.create(serial="BX-FE", registration_status="Pending")
    assert staff_client(field_engineer).post("/api/v1/boxes/BX-FE/approve").status_code == 403
    assert ChargeBox.objects.get(serial="BX-FE").registration_status == "Pending"


def test_openapi_tells_nullable_fields_and_every_answer(api):
    schema = yaml.safe_load(api.get("/api/schema/").content)
    components = schema["components"]["schemas"]
    assert components["IdTagOut"]["properties"]["expiry"]["nullable"] is True
    assert components["AlarmOut"]["properties"]["cleared"]["nullable"] is True
    assert components["BoxListOut"]["properties"]["lastSeen"]["nullable"] is True
    assert "parent" in components["IdTagOut"]["required"]
    cancel = schema["paths"]["/api/v1/reservations/{id}/cancel"]["post"]["responses"]
    # 429 (rate limits) and a 404 for what a query names come from operations.openapi, on every operation.
    assert set(cancel) == {"202", "400", "401", "403", "404", "409", "429", "503"}
    sessions = schema["paths"]["/api/v1/transactions"]["get"]
    assert {p["name"] for p in sessions["parameters"]} >= {"box", "idTag", "from", "to", "state", "cursor"}
    assert set(sessions["responses"]) == {"200", "400", "401", "403", "404", "429", "503"}
    deliveries = schema["paths"]["/api/v1/webhooks/{id}/deliveries"]["get"]["responses"]
    assert set(deliveries) == {"200", "400", "401", "403", "404", "429", "503"}
    assert components["DeliveryOut"]["properties"]["responseStatus"]["nullable"] is True


def test_a_method_a_list_does_not_offer_is_405_for_staff_too(operations_user, db):
    client = staff_client(operations_user)
    assert client.post("/api/v1/alarms", {}, content_type="application/json").status_code == 405
    assert client.delete("/api/v1/transactions").status_code == 405


def test_alarms_a_box_raised_by_level_and_code_and_past_their_ttl(api, make_box):
    from chargers.alarms import AlarmReport, alarm_clear, alarm_raise

    box = make_box("AL-K", connectors=2)
    over = alarm_raise(box=box, report=AlarmReport(code="OverVoltage", level="critical", connector_id=1))
    brief = alarm_raise(box=box, report=AlarmReport(code="DoorOpen", level="notice", ttl=0))
    lid = alarm_raise(box=box, report=AlarmReport(code="LidOpen", level="warning"))
    alarm_clear(box=box, code="LidOpen")
    assert ids(api.get("/api/v1/alarms", {"level": "critical"})) == [over.id]
    assert ids(api.get("/api/v1/alarms", {"code": "DoorOpen"})) == [brief.id]
    # ttl 0 is past at once: no longer open, though the sweep has not cleared it yet.
    assert ids(api.get("/api/v1/alarms", {"state": "open"})) == [over.id]
    assert ids(api.get("/api/v1/alarms", {"state": "cleared"})) == [lid.id, brief.id]
    body = api.get(f"/api/v1/alarms/{over.id}").json()
    assert (body["level"], body["code"], body["open"], body["expires"]) == ("critical", "OverVoltage", True, None)
    assert api.get("/api/v1/alarms", {"level": "loud"}).status_code == 400
