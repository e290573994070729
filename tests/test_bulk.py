"""core.bulk.rows_insert: rows copied are rows kept, in a transaction or not, whether few
(one INSERT from UNNEST of array parameters) or many (COPY)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from chargers.choices import Direction, Protocol
from chargers.models import JournalEntry
from transactions.models import MeterValue
from core.bulk import FEW_ROWS, rows_insert
from transactions.services import Sample, meter_values_store

pytestmark = pytest.mark.django_db(transaction=True)
SIZES = pytest.mark.parametrize("few", [3, FEW_ROWS + 5], ids=["unnest", "copy"])


def samples(count: int) -> list[Sample]:
    at = timezone.now()
    return [Sample(timestamp=at.replace(microsecond=n), value=str(n), measurand="Energy.Active.Import.Register")
            for n in range(count)]


@SIZES
def test_meter_values_stored_in_autocommit_are_kept(make_box, few):
    # The temporary table behind ignore_conflicts is emptied at every commit: in autocommit the
    # COPY used to commit on its own, and the rows vanished before the INSERT that reads them.
    box = make_box("CB-COPY")
    meter_values_store(box=box, connector_id=1, transaction_id=None, samples=samples(few))
    assert MeterValue.objects.filter(box=box).count() == few


@SIZES
def test_a_replayed_report_adds_nothing(make_box, few):
    box = make_box("CB-COPY-2")
    meter_values_store(box=box, connector_id=1, transaction_id=None, samples=samples(few))
    with transaction.atomic():
        meter_values_store(box=box, connector_id=1, transaction_id=None, samples=samples(few + 1))
        meter_values_store(box=box, connector_id=1, transaction_id=None, samples=samples(few + 1))
    assert MeterValue.objects.filter(box=box).count() == few + 1


@SIZES
def test_journal_rows_copied_in_autocommit_are_kept(make_box, few):
    box = make_box("CB-COPY-3")
    row = (box.pk, timezone.now(), Direction.IN, Protocol.OCPP16, "Heartbeat", "[2,\"1\",\"Heartbeat\",{}]")
    rows_insert(JournalEntry, ("box_id", "at", "direction", "protocol", "action", "payload"), [row] * few)
    assert JournalEntry.objects.filter(box=box).count() == few


def test_nothing_to_insert_is_no_statement(make_box, django_assert_num_queries):
    with django_assert_num_queries(0):
        rows_insert(JournalEntry, ("box_id", "at", "direction", "protocol", "action", "payload"), [])
    assert not JournalEntry.objects.exists()
