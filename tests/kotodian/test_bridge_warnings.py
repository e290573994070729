"""WarningReq (0x33 / 0xB3) over the real broker: alarms with their code's name (Warnings enum), level
and component, cleared by the box (clean) or by themselves after ttl seconds (the beat sweep, run by
a real Celery worker); shown open on the box's status page with level and code name."""

from datetime import timedelta

from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chargers.alarms import alarms_expire
from chargers.models import Alarm
from kotodian.proto import charger_pb2 as pb
from kotodian.proto import warning_pb2
from staff import PASSWORD

START = 1_780_000_000
INSULATION_NAME = "CCM_InsulationFault"
INSULATION = warning_pb2.Warnings.Value(INSULATION_NAME)


def warning(**fields) -> pb.WarningReq:
    values = {"code": INSULATION, "level": pb.WL_Critical, "component": pb.CP_CCM, "connectorId": "1",
              "info": "insulation below 100 kOhm", "time": START}
    return pb.WarningReq(**{**values, **fields})


def test_a_warning_raises_an_alarm_by_code_name_level_and_component(booted):
    row, box = booted
    answer = box.call("C", pb.ID_WarningReq, warning(componentId=2, vendorEx="E-77"))
    assert answer.message_id == pb.ID_WarningConf
    assert (answer.message.code, answer.message.clean) == (INSULATION, False)
    alarm = Alarm.objects.get(box=row)
    assert (alarm.code, alarm.level, alarm.component) == (INSULATION_NAME, "critical", "CP_CCM 2")
    assert (alarm.connector_id, alarm.info, alarm.vendor_error_code) == (1, "insulation below 100 kOhm", "E-77")
    assert alarm.cleared is None and alarm.expires is None  # no ttl: until the box clears it


def test_a_repeated_warning_refreshes_the_open_alarm(booted):
    row, box = booted
    box.call("C", pb.ID_WarningReq, warning())
    box.call("C", pb.ID_WarningReq, warning(level=pb.WL_Warning, ttl=600))
    alarm = Alarm.objects.get(box=row)
    assert alarm.level == "warning" and alarm.expires is not None


def test_a_warning_that_says_clean_clears_the_open_alarm_of_its_code(booted):
    row, box = booted
    other = warning_pb2.Warnings.values()[1]
    box.call("C", pb.ID_WarningReq, warning())
    box.call("C", pb.ID_WarningReq, warning(code=other, connectorId="2"))
    answer = box.call("C", pb.ID_WarningReq, pb.WarningReq(code=INSULATION, clean=True))
    assert (answer.message.code, answer.message.clean) == (INSULATION, True)
    assert Alarm.objects.get(box=row, code=INSULATION_NAME).cleared is not None
    assert Alarm.objects.get(box=row, code=warning_pb2.Warnings.Name(other)).cleared is None
    # Raised again later: a new alarm, the cleared one stays in the record.
    box.call("C", pb.ID_WarningReq, warning())
    assert Alarm.objects.filter(box=row, code=INSULATION_NAME).count() == 2


def test_an_alarm_clears_itself_after_its_ttl_through_the_beat_task(booted, celery_worker, wait_for):
    from evchong.celery import app

    row, box = booted
    box.call("C", pb.ID_WarningReq, warning(ttl=1))
    alarm = Alarm.objects.get(box=row)
    assert alarm.expires is not None and alarm.cleared is None
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "chargers.tasks.alarms_sweep" in schedule  # make run's beat sends it
    wait_for(lambda: timezone.now() > alarm.expires, timeout=5)
    app.send_task("chargers.tasks.alarms_sweep")
    wait_for(lambda: Alarm.objects.get(pk=alarm.pk).cleared is not None)
    assert Alarm.objects.get(pk=alarm.pk).cleared == alarm.expires  # cleared as of its expiry
    assert alarms_expire() == 0  # a second sweep finds nothing


def test_an_alarm_past_its_ttl_is_not_shown_open_before_the_sweep(booted, field_engineer):
    row, box = booted
    box.call("C", pb.ID_WarningReq, warning(ttl=3600))
    box.call("C", pb.ID_WarningReq, warning(code=warning_pb2.Warnings.values()[1], level=pb.WL_Notice, ttl=3600))
    client = Client()
    assert client.login(username=field_engineer.username, password=PASSWORD)
    page = client.get(reverse("status:box", args=[row.serial])).content.decode()
    assert INSULATION_NAME in page and "critical" in page and "CP_CCM" in page
    Alarm.objects.filter(box=row, code=INSULATION_NAME).update(expires=timezone.now() - timedelta(seconds=1))
    page = client.get(reverse("status:box", args=[row.serial])).content.decode()
    assert INSULATION_NAME not in page and "notice" in page


def test_bad_warnings_are_type_violations_and_raise_nothing(booted):
    row, box = booted
    for bad in (warning(level=7), warning(component=99), warning(ttl=-5), warning(connectorId="x")):
        answer = box.call("C", pb.ID_WarningReq, bad)
        assert answer.message_id == pb.ID_MessageError and answer.message.error == pb.EC_TypeViolation
    assert not Alarm.objects.exists()


def test_a_code_outside_the_enum_is_kept_by_number_or_vendor_code(booted):
    row, box = booted
    box.call("C", pb.ID_WarningReq, warning(code=987654))
    box.call("C", pb.ID_WarningReq, warning(code=987655, vendorEx="VX-1"))
    assert set(Alarm.objects.values_list("code", flat=True)) == {"unknown (987654)", "vendor VX-1"}


def test_a_healthy_status_report_leaves_the_boxs_own_alarms_open(booted):
    row, box = booted
    box.call("C", pb.ID_WarningReq, warning())
    box.call("C", pb.ID_StatusNotificationReq, pb.StatusNotificationReq(connectorId="1", connectorState=4))
    box.call("C", pb.ID_StatusNotificationReq, pb.StatusNotificationReq(connectorId="1", connectorState=1))
    # The Faulted report's alarm is cleared by the Available one; the warning is the box's to clear.
    assert Alarm.objects.get(box=row, status="Faulted").cleared is not None
    assert Alarm.objects.get(box=row, code=INSULATION_NAME).cleared is None


def test_a_critical_alarm_is_emailed_to_operations_once_and_a_notice_is_not(booted, celery_worker, wait_for):
    from django.core import mail

    row, box = booted
    box.call("C", pb.ID_WarningReq, warning(level=pb.WL_Notice, code=warning_pb2.Warnings.Value("SYS_4GFault")))
    box.call("C", pb.ID_WarningReq, warning())
    box.call("C", pb.ID_WarningReq, warning())  # repeated: the same alarm, no second mail
    critical = Alarm.objects.get(box=row, code=INSULATION_NAME)
    assert critical.notify_operations and not Alarm.objects.get(box=row, code="SYS_4GFault").notify_operations
    wait_for(lambda: len(mail.outbox) == 1)
    assert Alarm.objects.get(pk=critical.pk).emailed is not None
    assert [message.subject for message in mail.outbox] == [
        f"[evchong] {row.serial} connector 1 critical: {INSULATION_NAME}"]
    assert "component CP_CCM" in mail.outbox[0].body
