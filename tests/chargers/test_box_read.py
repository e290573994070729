"""chargers.services.box_by_serial: the box as the ORM reads it, through one SELECT written as SQL."""

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from chargers.models import ChargeBox, Station
from chargers.services import box_by_serial


@pytest.mark.django_db
def test_the_box_is_read_whole_as_the_orm_reads_it(make_box):
    make_box("READ-1", password="secret")
    ChargeBox.objects.filter(serial="READ-1").update(
        station=Station.objects.create(code="ST-R"), registration_status="Pending", firmware_version="1.2",
        heartbeat_interval=120, last_seen=timezone.now(), connected_node="node/x",
    )
    read, orm = box_by_serial("READ-1"), ChargeBox.objects.get(serial="READ-1")
    assert read.pk == orm.pk and not read._state.adding and read._state.db == "default"
    fields = [field.attname for field in ChargeBox._meta.concrete_fields]
    assert [getattr(read, name) for name in fields] == [getattr(orm, name) for name in fields]
    assert model_to_dict(read) == model_to_dict(orm)
    assert read.check_password("secret") and read.station.code == "ST-R"
    read.firmware_version = "1.3"
    read.save(update_fields=["firmware_version"])  # an instance like any other
    assert ChargeBox.objects.get(serial="READ-1").firmware_version == "1.3"


@pytest.mark.django_db
def test_an_unknown_serial_is_none():
    assert box_by_serial("NO-SUCH-BOX") is None
