"""addbox, addidtag and apitoken as DESIGN.md section 3 specifies them: idempotent."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from chargers.models import ChargeBox, IdTag

from security.models import ApiToken
from security.tokens import token_digest


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
class TestAddBox:
    def test_creates_box_with_connectors_and_station(self):
        run("addbox", "CB-1", "--station", "ST-9", "--connectors", "3", "--vendor", "Keli", "--model", "K1")
        box = ChargeBox.objects.get(serial="CB-1")
        assert sorted(box.connectors.values_list("connector_id", flat=True)) == [0, 1, 2, 3]
        assert (box.station.code, box.vendor, box.model) == ("ST-9", "Keli", "K1")
        assert not box.requires_auth

    def test_is_idempotent_and_updates(self):
        run("addbox", "CB-1")
        run("addbox", "CB-1", "--connectors", "2", "--password", "secret-secret-16")
        box = ChargeBox.objects.get(serial="CB-1")
        assert ChargeBox.objects.count() == 1
        assert box.connectors.count() == 3
        assert box.check_password("secret-secret-16") and not box.check_password("nope")

    def test_refuses_nonsense(self):
        with pytest.raises(CommandError):
            run("addbox", "CB-1", "--connectors", "0")


@pytest.mark.django_db
class TestAddIdTag:
    def test_defaults_to_accepted(self):
        run("addidtag", "RFID-1")
        assert IdTag.objects.get(id_tag="RFID-1").status == "Accepted"

    def test_status_expiry_parent_and_update(self):
        run("addidtag", "RFID-1", "--status", "Blocked", "--expiry", "2030-01-02T03:04:05+08:00", "--parent", "FLEET")
        tag = IdTag.objects.get(id_tag="RFID-1")
        assert (tag.status, tag.parent.id_tag, tag.expiry.isoformat()) == ("Blocked", "FLEET", "2030-01-01T19:04:05+00:00")
        run("addidtag", "RFID-1")
        tag.refresh_from_db()
        assert (tag.status, tag.parent, tag.expiry) == ("Accepted", None, None)

    def test_expiry_may_be_a_date(self):
        run("addidtag", "RFID-2", "--expiry", "2030-01-01")
        assert IdTag.objects.get(id_tag="RFID-2").expiry.isoformat() == "2030-01-01T00:00:00+00:00"

    @pytest.mark.parametrize("args", [["X" * 21], ["T", "--expiry", "soon"], ["T", "--parent", "T"]])
    def test_refuses_nonsense(self, args):
        with pytest.raises(CommandError):
            run("addidtag", *args)

    def test_refuses_unknown_status(self):
        with pytest.raises(CommandError):
            run("addidtag", "T", "--status", "ConcurrentTx")


@pytest.mark.django_db
def test_apitoken_prints_only_the_token_and_is_stable():
    first = run("apitoken", "backend").strip()
    second = run("apitoken", "backend").strip()
    assert first == second  # stored as its digest only (security.tokens)
    stored = ApiToken.objects.get(user__username="backend")
    assert stored.digest == token_digest(first) and first not in (stored.seed, stored.digest)
    assert len(first) == 40 and "\n" not in first
    assert get_user_model().objects.get(username="backend").has_perm("chargers.use_command_api")
