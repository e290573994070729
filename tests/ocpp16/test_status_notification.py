"""StatusNotification (OCPP 1.6 §4.9): the state of the box (connector 0) and of each connector, in
OCPP 1.6's own words, which are the domain's."""

from chargers.models import Alarm, Connector


def connector(n):
    return Connector.objects.get(box__serial="CP-1", connector_id=n)


def test_box_and_connector_states(cp):
    cp.call("StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"})
    cp.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing",
                                   "timestamp": "2026-11-21T08:00:00Z", "info": "cable in"})
    cp.call("StatusNotification", {"connectorId": 2, "errorCode": "NoError", "status": "Unavailable"})
    assert connector(0).status == "Available"
    one = connector(1)
    assert (one.status, one.error_code, one.info, one.status_time.isoformat()) == (
        "Preparing", "NoError", "cable in", "2026-11-21T08:00:00+00:00")
    assert connector(2).status == "Unavailable"


def test_a_fault_is_recorded_with_the_vendor_codes_and_raises_an_alarm(cp):
    cp.call("StatusNotification", {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted",
                                   "vendorId": "com.acme", "vendorErrorCode": "E42", "info": "RCD tripped"})
    one = connector(1)
    assert (one.status, one.error_code, one.vendor_id, one.vendor_error_code) == (
        "Faulted", "GroundFailure", "com.acme", "E42")
    alarm = Alarm.objects.get()
    assert (alarm.connector_id, alarm.error_code, alarm.notify_operations) == (1, "GroundFailure", True)


def test_an_older_report_does_not_hide_a_newer_one(cp):
    cp.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Charging",
                                   "timestamp": "2026-11-21T09:00:00Z"})
    cp.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing",
                                   "timestamp": "2026-11-21T08:00:00Z"})
    assert connector(1).status == "Charging"


def test_unknown_status_and_missing_error_code(cp):
    assert cp.call_error("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Dancing"})[0] \
        == "PropertyConstraintViolation"
    assert cp.call_error("StatusNotification", {"connectorId": 1, "status": "Available"})[0] == \
        "OccurenceConstraintViolation"
    assert connector(1).status == ""
