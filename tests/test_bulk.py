"""evchong.bulk.copy_insert: rows copied are rows kept, in a transaction or not."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from chargers.choices import Direction, Protocol
from chargers.models import JournalEntry
from transactions.models import MeterValue
from transactions.services import Sample, meter_values_store

pytestmark = pytest.mark.django_db(transaction=True)


def samples(count: int) -> list[Sample]:
    at = timezone.now()
    return [Sample(timestamp=at.replace(microsecond=n), value=str(n), measurand="Energy.Active.Import.Register")
            for n in range(count)]


def test_meter_values_stored_in_autocommit_are_kept(make_box):
    # The temporary table behind ignore_conflicts is emptied at every commit: in autocommit the
    # COPY used to commit on its own, and the rows vanished before the INSERT that reads them.
    box = make_box("CB-COPY")
    meter_values_store(box=box, connector_id=1, transaction_id=None, samples=samples(3))
    assert MeterValue.objects.filter(box=box).count() == 3


def test_a_replayed_report_adds_nothing(make_box):
    box = make_box("CB-COPY-2")
    meter_values_store(box=box, connector_id=1, transaction_id=None, samples=samples(3))
    with transaction.atomic():
        meter_values_store(box=box, connector_id=1, transaction_id=None, samples=samples(4))
        meter_values_store(box=box, connector_id=1, transaction_id=None, samples=samples(4))
    assert MeterValue.objects.filter(box=box).count() == 4


def test_journal_rows_copied_in_autocommit_are_kept(make_box):
    from evchong.bulk import copy_insert

    box = make_box("CB-COPY-3")
    copy_insert(JournalEntry, ("box_id", "at", "direction", "protocol", "action", "payload"),
                [(box.pk, timezone.now(), Direction.IN, Protocol.OCPP16, "Heartbeat", "[2,\"1\",\"Heartbeat\",{}]")])
    assert JournalEntry.objects.filter(box=box).count() == 1
