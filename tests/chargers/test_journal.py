import pytest
from django.test import override_settings

from chargers.models import JournalEntry
from chargers.services import journal_record
from chargers.tasks import journal_trim


@pytest.mark.django_db
@override_settings(JOURNAL_MAX_PER_BOX=5)
def test_trim_keeps_the_newest_frames_of_each_box(make_box):
    boxes = [make_box("A"), make_box("B")]
    for box in boxes:
        for n in range(8):
            journal_record(box=box, direction="in", protocol="evchong", action="heartbeat", payload=str(n))
    journal_record(box=make_box("C"), direction="in", protocol="evchong", action="heartbeat", payload="only")
    assert journal_trim() == 6
    for box in boxes:
        assert list(JournalEntry.objects.filter(box=box).values_list("payload", flat=True)) == ["7", "6", "5", "4", "3"]
    assert JournalEntry.objects.filter(box__serial="C").count() == 1
