"""What the forward methods mean (EVCHONG 2.1-2.8), beyond their shapes."""

import base64
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from chargers.models import Alarm, ChargeBox, Connector
from transactions.models import MeterValue, Transaction

T0 = 1425289031076


def start(evchong, tag="TAG", connector=1, at=T0, box="BOX-1", meter=100):
    return evchong.post("startTrans", {"chargeBoxSerialNumber": box, "connectorId": connector, "idTag": tag,
                                       "meterStart": meter, "timestamp": at})


def stop(evchong, transaction_id, meter=1100, at=T0 + 3_600_000, values=(), **extra):
    return evchong.post("stopTrans", {"chargeBoxSerialNumber": "BOX-1", "transactionId": transaction_id,
                                      "meterStop": meter, "timestamp": at,
                                      "transactionData": {"values": list(values)}, **extra})


def status(evchong, status="Available", error="NoError", transaction_id=None, at=None, connector=1, **extra):
    body = {"chargeBoxSerialNumber": "BOX-1", "connectorId": connector, "errorCode": error, "status": status,
            "timestamp": at or int(time.time() * 1000), "vendorId": "V", "vendorErrorCode": "E42", **extra}
    if transaction_id is not None:
        body["transcationId"] = transaction_id
    return evchong.post("statusNotify", body)


@pytest.fixture(autouse=True)
def world(make_box, make_tag):
    make_box("BOX-1", connectors=2)
    make_tag("TAG")
    make_tag("OTHER")


class TestDeviceBoot:
    def test_unknown_box_is_rejected_not_created(self, evchong):
        response = evchong.post("deviceBoot", {"chargeBoxSerialNumber": "STRANGER", "chargePointSerialNumber": "S",
                                               "chargePointVendor": "V"})
        assert response.status_code == 200
        assert response.json()["status"] == "Rejected"
        assert not ChargeBox.objects.filter(serial="STRANGER").exists()

    def test_box_rejected_by_operations_is_rejected(self, evchong):
        ChargeBox.objects.filter(serial="BOX-1").update(registration_status="Rejected")
        response = evchong.post("deviceBoot", {"chargeBoxSerialNumber": "BOX-1", "chargePointSerialNumber": "S",
                                               "chargePointVendor": "V"})
        assert response.json()["status"] == "Rejected"

    def test_heartbeat_interval_is_the_boxes_own_when_set(self, evchong):
        ChargeBox.objects.filter(serial="BOX-1").update(heartbeat_interval=10)
        response = evchong.post("deviceBoot", {"chargeBoxSerialNumber": "BOX-1", "chargePointSerialNumber": "S",
                                               "chargePointVendor": "V"})
        assert response.json()["heartbeatInterval"] == 10


@pytest.mark.parametrize("method", ["authorize", "heartbeat", "firmwareStatusNotify"])
def test_calls_from_unknown_boxes_are_refused_naming_the_box(evchong, method):
    response = evchong.post(method, {"chargeBoxSerialNumber": "STRANGER", "idTag": "TAG", "status": "Installed"})
    assert response.status_code == 403
    assert response.json()["field"] == "chargeBoxSerialNumber"
    assert "STRANGER" in response.json()["problem"]


class TestAuthorize:
    def authorize(self, evchong, tag):
        response = evchong.post("authorize", {"authReq": {"chargeBoxSerialNumber": "BOX-1", "idToken": tag}})
        assert response.status_code == 200
        return response.json()["authRes"]["idTagInfo"]

    def test_unknown_tag_is_invalid(self, evchong):
        assert self.authorize(evchong, "NOBODY") == {"status": "Invalid"}

    def test_blocked_tag(self, evchong, make_tag):
        make_tag("B", status="Blocked")
        assert self.authorize(evchong, "B")["status"] == "Blocked"

    def test_expired_by_date(self, evchong, make_tag):
        make_tag("OLD", expiry="2020-01-01T00:00:00Z")
        info = self.authorize(evchong, "OLD")
        assert info == {"status": "Expired", "expiryDate": 1577836800000}

    def test_future_expiry_is_reported(self, evchong, make_tag):
        make_tag("NEW", expiry="2099-01-01T00:00:00+00:00")
        assert self.authorize(evchong, "NEW") == {"status": "Accepted", "expiryDate": 4070908800000}

    def test_parent_is_reported_and_its_block_applies(self, evchong, make_tag):
        make_tag("GROUP")
        make_tag("CHILD", parent="GROUP")
        assert self.authorize(evchong, "CHILD") == {"status": "Accepted", "parentIdTag": {"idToken": "GROUP"}}
        make_tag("GROUP", status="Blocked")
        assert self.authorize(evchong, "CHILD")["status"] == "Blocked"

    def test_parent_expiry_bounds_the_child(self, evchong, make_tag):
        make_tag("GROUP", expiry="2020-01-01T00:00:00Z")
        make_tag("CHILD", parent="GROUP")
        assert self.authorize(evchong, "CHILD")["status"] == "Expired"

    def test_unwrapped_form_and_id_tag_spelling(self, evchong):
        response = evchong.post("authorize", {"chargeBoxSerialNumber": "BOX-1", "idTag": "TAG"})
        assert response.json() == {"authRes": {"idTagInfo": {"status": "Accepted"}}}


class TestStartTrans:
    def test_replay_gets_the_same_transaction(self, evchong):
        first = start(evchong).json()["transactionId"]
        assert start(evchong).json()["transactionId"] == first
        assert Transaction.objects.count() == 1

    def test_unknown_tag_is_recorded_and_answered_invalid(self, evchong):
        response = start(evchong, tag="NOBODY")
        assert response.json()["idTagInfo"] == {"status": "Invalid"}
        assert Transaction.objects.get(pk=response.json()["transactionId"]).id_tag == "NOBODY"

    def test_tag_charging_elsewhere_is_concurrent_tx(self, evchong):
        start(evchong, connector=1)
        response = start(evchong, connector=2, at=T0 + 1000)
        assert response.json()["idTagInfo"]["status"] == "ConcurrentTx"

    def test_newer_start_on_a_busy_connector_closes_the_lost_session(self, evchong):
        old = start(evchong, tag="TAG").json()["transactionId"]
        new = start(evchong, tag="OTHER", at=T0 + 60_000).json()["transactionId"]
        assert new != old
        assert Transaction.objects.get(pk=old).stopped_at is not None
        assert Transaction.objects.get(pk=new).is_active

    def test_late_offline_start_is_kept_closed_behind_the_active_one(self, evchong):
        active = start(evchong, tag="TAG", at=T0 + 60_000).json()["transactionId"]
        late = start(evchong, tag="OTHER", at=T0).json()["transactionId"]
        assert Transaction.objects.get(pk=active).is_active
        assert not Transaction.objects.get(pk=late).is_active

    def test_connector_the_box_never_mentioned_is_created(self, evchong):
        assert start(evchong, connector=7).status_code == 200
        assert Connector.objects.filter(box__serial="BOX-1", connector_id=7).exists()


class TestStopTrans:
    def test_stop_closes_the_session_with_energy(self, evchong):
        tx = start(evchong, meter=100).json()["transactionId"]
        response = stop(evchong, tx, meter=12_100, values=[
            {"measurand": "Energy.Active.Import.Register", "unit": "kWh", "value": "12.1", "timestamp": T0 + 1}])
        assert response.json() == {"idTagInfo": {"status": "Accepted"}, "transactionId": tx}
        row = Transaction.objects.get(pk=tx)
        assert (row.energy_wh, row.meter_stop_wh, row.stop_reason) == (12_000, 12_100, "Local")
        assert row.meter_values.get().value == pytest.approx(12_100)

    def test_stop_for_unknown_session_is_answered_and_its_data_kept(self, evchong):
        response = stop(evchong, 999, idTag="TAG", values=[
            {"measurand": "Voltage", "value": "230", "timestamp": T0}])
        assert response.status_code == 200
        assert response.json() == {"idTagInfo": {"status": "Accepted"}, "transactionId": 999}
        kept = MeterValue.objects.get(reported_transaction_id=999)
        assert kept.transaction is None and kept.unit == "V"

    def test_second_stop_changes_nothing(self, evchong):
        tx = start(evchong).json()["transactionId"]
        stop(evchong, tx, meter=500)
        response = stop(evchong, tx, meter=900, at=T0 + 7_200_000)
        assert response.status_code == 200
        assert Transaction.objects.get(pk=tx).meter_stop_wh == 500

    def test_stop_reason_from_ocpp_gateways(self, evchong):
        tx = start(evchong).json()["transactionId"]
        stop(evchong, tx, reason="EVDisconnected")
        assert Transaction.objects.get(pk=tx).stop_reason == "EVDisconnected"


class TestMeterValues:
    def send(self, evchong, values, transaction_id=-1):
        return evchong.post("meterValues", {"chargeBoxSerialNumber": "BOX-1", "connectorId": 1,
                                            "transactionId": transaction_id, "values": values})

    def test_values_are_normalised_with_raw_kept(self, evchong):
        tx = start(evchong).json()["transactionId"]
        response = self.send(evchong, [
            {"measurand": "Energy_Active_Import_Register", "unit": "kWh", "value": "1.25", "timestamp": T0 + 1},
            {"measurand": "Power.Active.Import", "unit": "kW", "value": "7.4", "timestamp": T0 + 1},
            {"measurand": "Current.Import", "unit": "Amp", "value": "32.00", "timestamp": T0 + 1, "phase": "L1"},
            {"measurand": "Voltage", "unit": "Volt", "value": "229.5", "timestamp": T0 + 1},
            {"measurand": "Temperature", "unit": "Celsius", "value": "41", "timestamp": T0 + 1},
            {"measurand": "Energy.Reactive.Import.Register", "unit": "kvarh", "value": "0.5", "timestamp": T0 + 1},
        ], transaction_id=tx)
        assert response.json()["transactionId"] == tx
        got = {m.measurand: (m.value, m.unit, m.raw_value, m.raw_unit)
               for m in MeterValue.objects.filter(transaction_id=tx)}
        assert got == {
            "Energy.Active.Import.Register": (1250.0, "Wh", "1.25", "kWh"),
            "Power.Active.Import": (pytest.approx(7400.0), "W", "7.4", "kW"),
            "Current.Import": (32.0, "A", "32.00", "Amp"),
            "Voltage": (229.5, "V", "229.5", "Volt"),
            "Temperature": (41.0, "Celsius", "41", "Celsius"),
            "Energy.Reactive.Import.Register": (500.0, "varh", "0.5", "kvarh"),
        }

    def test_replayed_values_are_stored_once(self, evchong):
        values = [{"measurand": "Voltage", "unit": "V", "value": "230", "timestamp": T0}]
        self.send(evchong, values)
        self.send(evchong, values)
        assert MeterValue.objects.count() == 1

    def test_numbers_sent_as_numbers_are_taken(self, evchong):
        self.send(evchong, [{"measurand": "Voltage", "value": 231.5, "timestamp": T0}])
        assert MeterValue.objects.get().value == 231.5


class TestStatusNotify:
    def test_periodic_report_only_updates_state(self, evchong):
        status(evchong, "Faulted", "GroundFailure", transaction_id=-1)
        assert Connector.objects.get(box__serial="BOX-1", connector_id=1).status == "Faulted"
        assert not Alarm.objects.exists()

    def test_fault_in_session_notifies_user_and_operations(self, evchong, celery_worker, wait_for):
        tx = start(evchong).json()["transactionId"]
        status(evchong, "Faulted", "OverCurrentFailure", transaction_id=tx)
        alarm = Alarm.objects.get()
        assert (alarm.notify_user, alarm.notify_operations, alarm.transaction_id) == (True, True, tx)
        wait_for(lambda: len(mail.outbox) == 1)
        assert "OverCurrentFailure" in mail.outbox[0].subject

    def test_fault_outside_session_emails_operations(self, evchong, celery_worker, wait_for):
        status(evchong, "Faulted", "GroundFailure", transaction_id="")
        alarm = Alarm.objects.get()
        assert (alarm.notify_user, alarm.notify_operations, alarm.transaction_id) == (False, True, None)
        wait_for(lambda: len(mail.outbox) == 1)
        assert "BOX-1" in mail.outbox[0].body
        wait_for(lambda: Alarm.objects.get().emailed is not None)

    def test_exception_in_session_that_is_no_fault_notifies_the_user_only(self, evchong):
        tx = start(evchong).json()["transactionId"]
        status(evchong, "Occupied", "HighTemperature", transaction_id=tx)
        alarm = Alarm.objects.get()
        assert (alarm.notify_user, alarm.notify_operations) == (True, False)

    def test_recovery_clears_open_alarms(self, evchong):
        tx = start(evchong).json()["transactionId"]
        status(evchong, "Occupied", "HighTemperature", transaction_id=tx)
        status(evchong, "Occupied", "NoError", transaction_id=tx)
        assert Alarm.objects.get().cleared is not None

    def test_evchong_words_become_ocpp_16_with_the_raw_kept(self, evchong):
        start(evchong)
        status(evchong, "Occupied", "Mode3Error")
        connector = Connector.objects.get(box__serial="BOX-1", connector_id=1)
        assert (connector.status, connector.error_code) == ("Charging", "EVCommunicationError")
        assert (connector.raw_status, connector.raw_error_code) == ("Occupied", "Mode3Error")

    def test_occupied_without_session_is_preparing(self, evchong):
        status(evchong, "Occupied", connector=2)
        assert Connector.objects.get(box__serial="BOX-1", connector_id=2).status == "Preparing"

    def test_older_report_does_not_hide_a_newer_one(self, evchong):
        now = int(time.time() * 1000)
        status(evchong, "Unavailable", at=now)
        status(evchong, "Available", at=now - 60_000)
        assert Connector.objects.get(box__serial="BOX-1", connector_id=1).status == "Unavailable"

    def test_connector_zero_is_the_box(self, evchong):
        assert status(evchong, "Unavailable", connector=0).status_code == 200
        assert Connector.objects.get(box__serial="BOX-1", connector_id=0).status == "Unavailable"


def test_firmware_progress_is_a_history(evchong):
    for word in ("Downloaded", "Installed"):
        assert evchong.post("firmwareStatusNotify", {"chargeBoxSerialNumber": "BOX-1", "status": word}).status_code == 200
    box = ChargeBox.objects.get(serial="BOX-1")
    assert [e.status for e in box.firmware_events.order_by("id")] == ["Downloaded", "Installed"]


class TestBasicAuth:
    @pytest.fixture(autouse=True)
    def locked_box(self, make_box):
        make_box("SAFE", password="s3cret-s3cret-16")

    def beat(self, evchong, credentials=None):
        headers = {}
        if credentials:
            headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        return evchong.post("heartbeat", {"chargeBoxSerialNumber": "SAFE"}, **headers)

    def test_missing_credentials_are_401(self, evchong):
        response = self.beat(evchong)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Basic")
        assert response.json()["field"] == "Authorization"

    def test_wrong_password_or_user_is_401(self, evchong):
        assert self.beat(evchong, "SAFE:wrong").status_code == 401
        assert self.beat(evchong, "OTHER:s3cret-s3cret-16").status_code == 401

    def test_right_credentials_pass(self, evchong):
        assert self.beat(evchong, "SAFE:s3cret-s3cret-16").status_code == 200
        assert self.beat(evchong, "SAFE:s3cret-s3cret-16").status_code == 200  # remembered path

    def test_boxes_without_password_need_none(self, evchong):
        assert evchong.post("heartbeat", {"chargeBoxSerialNumber": "BOX-1"}).status_code == 200


def test_box_is_online_after_a_message_and_offline_when_silent(evchong):
    evchong.post("heartbeat", {"chargeBoxSerialNumber": "BOX-1"})
    box = ChargeBox.objects.get(serial="BOX-1")
    assert box.is_online
    ChargeBox.objects.filter(pk=box.pk).update(last_seen=timezone.now() - timedelta(hours=1))
    box.refresh_from_db()
    assert not box.is_online
