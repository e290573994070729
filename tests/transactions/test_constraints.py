"""What must never happen is refused by PostgreSQL itself, not only by the services."""

from datetime import datetime, timezone

import pytest
from django.db import IntegrityError, transaction

from transactions.models import Transaction

T = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def connector(make_box):
    return make_box("CB", connectors=1).connectors.get(connector_id=1)


def new_tx(connector, tag="A", started=T, **extra):
    return Transaction.objects.create(box=connector.box, connector=connector, id_tag=tag, meter_start_wh=0,
                                      started_at=started, **extra)


def test_two_active_transactions_on_one_connector_are_impossible(connector):
    new_tx(connector, "A")
    with pytest.raises(IntegrityError), transaction.atomic():
        new_tx(connector, "B", started=T.replace(hour=1))


def test_closed_transactions_do_not_count(connector):
    new_tx(connector, "A", stopped_at=T.replace(hour=1))
    new_tx(connector, "B", started=T.replace(hour=2))
    sessions = Transaction.objects.filter(connector=connector)
    assert sessions.count() == 2 and sessions.filter(stopped_at__isnull=True).count() == 1


def test_the_same_start_cannot_be_recorded_twice(connector):
    new_tx(connector, "A", stopped_at=T.replace(hour=1))
    with pytest.raises(IntegrityError), transaction.atomic():
        new_tx(connector, "A", stopped_at=T.replace(hour=2))


def test_energy_is_derived_by_the_database(connector):
    tx = new_tx(connector, meter_stop_wh=1500, stopped_at=T.replace(hour=1))
    tx.refresh_from_db()
    assert tx.energy_wh == 1500
