"""tariffs.signals.tariff_changed: after the commit of every save of a tariff, by addtariff (and the
API, through tariff_save) or by the admin's editor, naming the stations whose tariff may have
changed (before and after) and whether the default may have. Kotodian boxes are sent their new
tariff from it (tests/kotodian/test_commands_tariff.py)."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from chargers.models import Station
from tariffs.signals import tariff_changed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def heard():
    said = []

    def hear(sender, signal, **kwargs):
        said.append(kwargs)

    tariff_changed.connect(hear, dispatch_uid="test-heard")
    yield said
    tariff_changed.disconnect(dispatch_uid="test-heard")


def addtariff(*args):
    call_command("addtariff", *args, stdout=io.StringIO())


def test_addtariff_names_the_stations_before_and_after(heard):
    a, b = Station.objects.create(code="ST-A"), Station.objects.create(code="ST-B")
    addtariff("T", "--period", "00:00-00:00=1+0.5", "--station", "ST-A")
    addtariff("T", "--period", "00:00-00:00=1+0.5", "--station", "ST-B", "--default")
    addtariff("T", "--period", "00:00-00:00=1+0.5")
    assert heard == [{"station_ids": {a.pk}, "default": False}, {"station_ids": {a.pk, b.pk}, "default": True},
                     {"station_ids": {b.pk}, "default": True}]  # no longer the default: its boxes change too


def test_the_admin_editor_tells_too(client, heard, operations_user):
    a = Station.objects.create(code="ST-A")
    client.force_login(operations_user)
    form = {
        "code": "ED", "name": "", "currency": "CNY", "valid_from_0": "", "valid_from_1": "", "idle_grace_minutes": "0",
        "idle_fee_per_hour": "", "stations": [str(a.pk)], "periods-TOTAL_FORMS": "1", "periods-INITIAL_FORMS": "0",
        "periods-MIN_NUM_FORMS": "0", "periods-MAX_NUM_FORMS": "1000", "periods-0-start": "00:00",
        "periods-0-end": "00:00", "periods-0-energy_price": "1", "periods-0-service_price": "0.5",
    }
    assert client.post(reverse("admin:tariffs_tariff_add"), form).status_code == 302
    assert heard == [{"station_ids": {a.pk}, "default": False}]
