"""Charging profiles (OCPP 1.6 §3.13, §5.16 SetChargingProfile, §5.5 ClearChargingProfile): what a
box accepted is what we hold, with the box's replacement rules; TxProfiles end with their session."""

import pytest
from django.utils import timezone

from commands.effects import set_charging_profile
from smartcharging.models import ChargingProfile
from transactions.services import transaction_start, transaction_stop

pytestmark = pytest.mark.django_db

ACCEPTED = {"status": "Accepted"}
# 6 kW for the first eight hours, then 11 kW.
SCHEDULE = {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6000.0},
                                                                  {"startPeriod": 28800, "limit": 11000.0}]}


def profile(profile_id, stack_level, purpose="TxDefaultProfile", **extra):
    return {"chargingProfileId": profile_id, "stackLevel": stack_level, "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Absolute", "chargingSchedule": SCHEDULE, **extra}


def install(send, box, connector_id, body, answer=ACCEPTED):
    return send(box, "SetChargingProfile", {"connectorId": connector_id, "csChargingProfiles": body}, answer)


def held(box) -> set:
    return {(p.connector_id, p.charging_profile_id, p.purpose, p.stack_level)
            for p in ChargingProfile.objects.filter(box=box)}


def test_an_accepted_profile_is_kept_as_sent(box, send):
    install(send, box, 0, profile(10, 0, "ChargePointMaxProfile", chargingProfileKind="Recurring",
                                  recurrencyKind="Daily", validFrom="2026-12-01T00:00:00Z"))
    row = ChargingProfile.objects.get(box=box)
    assert (row.connector_id, row.charging_profile_id, row.purpose, row.kind, row.recurrency) == (
        0, 10, "ChargePointMaxProfile", "Recurring", "Daily")
    assert row.valid_from.isoformat() == "2026-12-01T00:00:00+00:00" and row.valid_to is None
    assert row.schedule == SCHEDULE


@pytest.mark.parametrize("answer", [{"status": "Rejected"}, {"status": "NotSupported"}])
def test_a_refused_profile_is_not_kept(box, send, answer):
    install(send, box, 1, profile(10, 0), answer)
    assert held(box) == set()


def test_the_same_id_replaces_the_profile_wherever_it_was(box, send):
    install(send, box, 1, profile(10, 0))
    install(send, box, 2, profile(10, 3))
    assert held(box) == {(2, 10, "TxDefaultProfile", 3)}


def test_the_same_stack_level_and_purpose_on_the_connector_replace_it(box, send):
    install(send, box, 1, profile(10, 1))
    install(send, box, 1, profile(11, 1))
    assert held(box) == {(1, 11, "TxDefaultProfile", 1)}


def test_other_levels_purposes_and_connectors_stack(box, send):
    install(send, box, 1, profile(10, 1))
    install(send, box, 1, profile(11, 2))
    install(send, box, 2, profile(12, 1))
    install(send, box, 0, profile(13, 1, "ChargePointMaxProfile"))
    assert held(box) == {(1, 10, "TxDefaultProfile", 1), (1, 11, "TxDefaultProfile", 2),
                         (2, 12, "TxDefaultProfile", 1), (0, 13, "ChargePointMaxProfile", 1)}


def test_installing_again_changes_nothing(box, send):
    command = install(send, box, 1, profile(10, 1))
    set_charging_profile(command)
    assert held(box) == {(1, 10, "TxDefaultProfile", 1)}


class TestClear:
    @pytest.fixture(autouse=True)
    def profiles(self, box, send):
        install(send, box, 0, profile(1, 0, "ChargePointMaxProfile"))
        install(send, box, 1, profile(2, 0))
        install(send, box, 1, profile(3, 1))
        install(send, box, 2, profile(4, 1))

    def clear(self, send, box, payload, answer=ACCEPTED):
        return send(box, "ClearChargingProfile", payload, answer)

    def test_by_id_ignores_the_other_criteria(self, box, send):
        self.clear(send, box, {"id": 2, "connectorId": 2, "stackLevel": 7})
        assert {p[1] for p in held(box)} == {1, 3, 4}

    def test_by_connector(self, box, send):
        self.clear(send, box, {"connectorId": 1})
        assert {p[1] for p in held(box)} == {1, 4}

    def test_by_purpose_and_stack_level(self, box, send):
        self.clear(send, box, {"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 1})
        assert {p[1] for p in held(box)} == {1, 2}

    def test_by_connector_purpose_and_stack_level(self, box, send):
        self.clear(send, box, {"connectorId": 2, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 1})
        assert {p[1] for p in held(box)} == {1, 2, 3}

    def test_no_criteria_clears_everything(self, box, send):
        self.clear(send, box, {})
        assert held(box) == set()

    def test_unknown_to_the_box_clears_nothing(self, box, send):
        assert self.clear(send, box, {"id": 2}, {"status": "Unknown"}).state == "rejected"
        assert len(held(box)) == 4


class TestTxProfiles:
    def start(self, box, connector_id=1):
        return transaction_start(box=box, connector_id=connector_id, id_tag="CARD", meter_start_wh=0,
                                 timestamp=timezone.now()).transaction

    def stop(self, box, tx):
        transaction_stop(box=box, transaction_id=tx.id, meter_stop_wh=1000, timestamp=timezone.now())

    def test_a_tx_profile_belongs_to_the_session_running_on_its_connector(self, box, send):
        tx = self.start(box)
        install(send, box, 1, profile(20, 0, "TxProfile"))
        assert ChargingProfile.objects.get(charging_profile_id=20).transaction_id == tx.id

    def test_it_ends_with_its_session_and_the_defaults_stay(self, box, send):
        install(send, box, 1, profile(10, 0))
        tx = self.start(box)
        other = self.start(box, connector_id=2)
        install(send, box, 1, profile(20, 0, "TxProfile"))
        install(send, box, 2, profile(21, 0, "TxProfile", transactionId=other.id))
        self.stop(box, tx)
        assert held(box) == {(1, 10, "TxDefaultProfile", 0), (2, 21, "TxProfile", 0)}
        self.stop(box, other)
        assert held(box) == {(1, 10, "TxDefaultProfile", 0)}

    def test_a_stop_of_a_session_we_never_recorded_ends_its_profile(self, box, send):
        install(send, box, 1, profile(22, 0, "TxProfile", transactionId=99999))
        transaction_stop(box=box, transaction_id=99999, meter_stop_wh=1000, timestamp=timezone.now())
        assert held(box) == set()
