"""Charging profiles of a Kotodian box through the operations API: SetChargingProfile and
ClearChargingProfile with OCPP's payloads, rendered as Kotodian's from/to periods, and our record
of the box's profiles kept as for an OCPP box (commands.effects)."""

from kotodian_commands import booted_box, command

from commands.models import Command
from kotodian.proto import charger_pb2 as pb
from smartcharging.models import ChargingProfile

PROFILE = {"chargingProfileId": 31, "stackLevel": 1, "chargingProfilePurpose": "TxDefaultProfile",
           "chargingProfileKind": "Absolute", "validTo": "2030-01-01T00:00:00Z",
           "chargingSchedule": {"duration": 3600, "startSchedule": "2026-12-06T00:00:00Z", "chargingRateUnit": "A",
                                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 32},
                                                           {"startPeriod": 1800, "limit": 16.0}]}}


def test_set_charging_profile_installs_it(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    box = booted_box(kotodian_box, make_box, serial, {pb.ID_SetChargingProfileReq: pb.SetChargingProfileConf(status=0)})
    code, body = command(fast_server, api_token, serial, "SetChargingProfile",
                         {"connectorId": 1, "csChargingProfiles": PROFILE})
    assert body["state"] == "accepted", body
    request = box.requests.get(timeout=5).message
    profile = request.chargingProfile
    assert (request.connectorId, profile.id, profile.validTo, profile.startTime) == (
        "1", 31, "2030-01-01T00:00:00Z", "2026-12-06T00:00:00Z")
    (schedule,) = profile.chargingSchedule
    assert schedule.chargingRateUnit == pb.A
    assert [(getattr(p, "from"), p.to, p.limit) for p in schedule.chargingSchedulePeriod] == [
        (0, 1800, 32), (1800, 3600, 16)]
    installed = ChargingProfile.objects.get(box__serial=serial)
    assert (installed.connector_id, installed.charging_profile_id, installed.purpose, installed.stack_level) == (
        1, 31, "TxDefaultProfile", 1)


def test_clear_charging_profile_by_id(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    box = booted_box(kotodian_box, make_box, serial, {
        pb.ID_SetChargingProfileReq: pb.SetChargingProfileConf(status=0),
        pb.ID_ClearChargingProfileReq: pb.ClearChargingProfileConf(status=0)})
    command(fast_server, api_token, serial, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": PROFILE})
    code, body = command(fast_server, api_token, serial, "ClearChargingProfile", {"id": 31})
    assert body["state"] == "accepted", body
    assert not ChargingProfile.objects.filter(box__serial=serial).exists()
    box.requests.get(timeout=5)
    request = box.requests.get(timeout=5).message
    assert request.id == 31 and not request.HasField("clearChargingProfile")


def test_clear_by_purpose_and_a_refusal(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    box = booted_box(kotodian_box, make_box, serial, {
        pb.ID_SetChargingProfileReq: pb.SetChargingProfileConf(status=0),
        pb.ID_ClearChargingProfileReq: pb.ClearChargingProfileConf(status=1)})
    command(fast_server, api_token, serial, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": PROFILE})
    code, body = command(fast_server, api_token, serial, "ClearChargingProfile",
                         {"chargingProfilePurpose": "ChargePointMaxProfile", "stackLevel": 2})
    assert body["state"] == "rejected", body
    assert ChargingProfile.objects.filter(box__serial=serial).exists()  # the box said no
    box.requests.get(timeout=5)
    criteria = box.requests.get(timeout=5).message.clearChargingProfile
    assert (criteria.purpose, criteria.stackLevel) == (pb.ChargingProfile.ChargingStationMaxProfile, 2)


def test_profiles_a_kotodian_box_cannot_take_are_400(fast_server, api_token, kotodian_box, make_box, serial):
    booted_box(kotodian_box, make_box, serial, {})
    fractional = {**PROFILE, "chargingSchedule": {**PROFILE["chargingSchedule"], "chargingSchedulePeriod": [
        {"startPeriod": 0, "limit": 6.5}]}}
    for action, payload, said in (
        ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": fractional}, "limit must be a whole number"),
        ("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {"chargingProfileId": 1}}, "stackLevel"),
        ("ClearChargingProfile", {"connectorId": 1}, "connectorId"),
        ("ClearChargingProfile", {"chargingProfilePurpose": "Whatever"}, "chargingProfilePurpose"),
    ):
        code, body = command(fast_server, api_token, serial, action, payload)
        assert code == 400 and said in body["payload"][0], (action, body)
    assert not Command.objects.filter(box__serial=serial).exists()
