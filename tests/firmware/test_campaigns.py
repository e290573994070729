"""Firmware campaigns over real simulated OCPP boxes that fetch the image from the real FTP server
(FTP and FTPS), with failures and retries; pause, resume, cancel; the maintenance window; the
limit on boxes at once; stalled updates; a damaged image; the progress JSON and the outcome CSV."""

import csv
import hashlib
import io
import time
from datetime import datetime, time as clock, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from boxrunner import BoxRunner, eventually
from commands.campaigns import campaigns_drive
from commands.models import Command
from commands.outcomes import Outcome
from commands.services import command_settle
from core.errors import DomainError
from firmware.campaigns import (campaign_cancel, campaign_create, campaign_in_window, campaign_outcome_csv,
                                campaign_pause, campaign_progress, campaign_resume, campaign_retry_failed)
from firmware.models import CampaignTarget, FileTransfer, FirmwareCampaign, FirmwareImage, FirmwareUpdate
from firmware.services import firmware_status_record
from simulator.ocpp_box import SIM_FIRMWARE_MAGIC

IMAGE = SIM_FIRMWARE_MAGIC + b"2.0\n" + hashlib.sha512(b"sim").digest() * 1024  # 64 KiB and a line
NAME = "sim-2.0.bin"


def states(campaign) -> dict:
    return {serial: (state, step, words) for serial, state, step, words in CampaignTarget.objects.filter(
        campaign=campaign).values_list("box__serial", "state", "step", "words")}


def drive_until_finished(campaign, timeout: float = 60.0) -> list[int]:
    """Run the beat's step until no box is pending or updating; how many were updating after each."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaigns_drive()
        seen.append(CampaignTarget.objects.filter(campaign=campaign, state="updating").count())
        if not CampaignTarget.objects.filter(campaign=campaign, state__in=["pending", "updating"]).exists():
            return seen
        time.sleep(0.2)
    raise AssertionError(f"the campaign did not finish: {states(campaign)}")


@pytest.fixture
def runner(fast_server, celery_worker, ftp_server):
    boxes = BoxRunner(fast_server)
    yield boxes
    boxes.close()


@pytest.fixture
def image(add_firmware) -> FirmwareImage:
    return FirmwareImage.objects.get(pk=add_firmware(IMAGE, version="2.0", name=NAME)["id"])


def test_a_campaign_over_simulated_boxes_two_at_a_time_with_failures_and_retries(runner, make_box, image):
    for n in range(1, 6):
        make_box(f"CP-{n}", connectors=1)
    boxes = {
        "CP-1": runner.box("CP-1", "T1", connectors=1, known_md5={NAME: image.md5}),
        "CP-2": runner.box("CP-2", "T2", connectors=1, ftp_tls=True),  # FTPS, explicit TLS
        "CP-3": runner.box("CP-3", "T3", connectors=1, firmware_fail="install"),
        "CP-4": runner.box("CP-4", "T4", connectors=1, known_md5={NAME: "0" * 32}),  # the vendor's MD5 differs
    }  # CP-5 is offline
    campaign = campaign_create(name="2.0 for all", image=image, max_concurrent=2,
                               serials=[f"CP-{n}" for n in range(1, 6)])

    seen = drive_until_finished(campaign)
    assert max(seen) == 2  # never more than the limit at once, and the limit used
    assert states(campaign) == {
        "CP-1": ("done", "boot", "booted with 2.0"),
        "CP-2": ("done", "boot", "booted with 2.0"),
        "CP-3": ("failed", "install", "InstallationFailed"),
        "CP-4": ("failed", "download", "DownloadFailed"),
        "CP-5": ("failed", "command", "the charge box is not connected"),
    }
    campaign.refresh_from_db()
    assert campaign.state == "done"
    assert boxes["CP-1"].firmware_version == "2.0" and boxes["CP-4"].firmware_problem.startswith("checksum")
    # The image went over FTP and over FTPS, whole, every time.
    fetched = FileTransfer.objects.filter(image=image, direction="download")
    assert {(t.tls, t.completed, t.bytes) for t in fetched} == {(False, True, len(IMAGE)), (True, True, len(IMAGE))}
    assert campaign_progress(campaign)["counts"] == {"pending": 0, "updating": 0, "done": 2, "failed": 3,
                                                     "cancelled": 0}

    # The operator fixes what failed and retries the failed boxes only.
    boxes["CP-3"].settings.firmware_fail = ""
    boxes["CP-4"].settings.known_md5 = {NAME: image.md5}
    runner.box("CP-5", "T5", connectors=1)
    assert campaign_retry_failed(campaign) == 3
    campaign.refresh_from_db()
    assert campaign.state == "running"
    drive_until_finished(campaign)
    assert {serial: state for serial, (state, _, _) in states(campaign).items()} == {
        f"CP-{n}": "done" for n in range(1, 6)}
    assert dict(CampaignTarget.objects.filter(campaign=campaign).values_list("box__serial", "attempts")) == {
        "CP-1": 1, "CP-2": 1, "CP-3": 2, "CP-4": 2, "CP-5": 2}
    assert Command.objects.filter(action="UpdateFirmware", source="campaign").count() == 8

    rows = list(csv.DictReader(io.StringIO(campaign_outcome_csv(campaign))))
    assert [(r["box"], r["state"], r["step"], r["box_said"], r["attempts"], r["firmware_version"]) for r in rows] == [
        (f"CP-{n}", "done", "boot", "booted with 2.0", "2" if n >= 3 else "1", "2.0") for n in range(1, 6)]


@pytest.fixture
def three_boxes(make_connected_box):
    """Boxes the database says are connected: their commands are queued and never answered, so
    their updates stay where each test puts them."""
    return [make_connected_box(f"Q-{n}") for n in range(1, 4)]


def targets(campaign) -> dict:
    return dict(CampaignTarget.objects.filter(campaign=campaign).values_list("box__serial", "state"))


def test_pause_resume_and_cancel(transactional_db, three_boxes, image):
    campaign = campaign_create(name="one at a time", image=image, max_concurrent=1, serials=["Q-1", "Q-2", "Q-3"])
    campaign_pause(campaign)
    assert campaigns_drive() == 0 and Command.objects.count() == 0  # paused: nobody starts
    with pytest.raises(DomainError, match="paused"):
        campaign_pause(campaign)

    campaign_resume(campaign)
    assert campaigns_drive() == 1
    assert campaigns_drive() == 0  # one updating: the limit is reached
    assert targets(campaign) == {"Q-1": "updating", "Q-2": "pending", "Q-3": "pending"}
    assert Command.objects.get().payload["location"] == image.url

    assert campaign_cancel(campaign) == 2
    assert targets(campaign) == {"Q-1": "updating", "Q-2": "cancelled", "Q-3": "cancelled"}
    # The box updating is followed to its end all the same.
    command_settle(command_id=Command.objects.get().pk, outcome=Outcome.answered({}))
    box = three_boxes[0]
    firmware_status_record(box=box, status="DownloadFailed")
    campaigns_drive()
    assert targets(campaign) == {"Q-1": "failed", "Q-2": "cancelled", "Q-3": "cancelled"}
    assert Command.objects.count() == 1
    with pytest.raises(DomainError, match="cancelled"):
        campaign_retry_failed(campaign)
    with pytest.raises(DomainError, match="cancelled"):
        campaign_resume(campaign)


def at_local(hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), clock(hour, minute)))


def test_the_maintenance_window_in_local_time(transactional_db, three_boxes, image):
    campaign = campaign_create(name="at night", image=image, window_start=clock(2), window_end=clock(4),
                               serials=["Q-1"])
    assert campaigns_drive(now=at_local(12)) == 0 and Command.objects.count() == 0
    assert campaigns_drive(now=at_local(3, 30)) == 1
    overnight = FirmwareCampaign(window_start=clock(22), window_end=clock(2))
    assert [campaign_in_window(overnight, at_local(h)) for h in (21, 22, 23, 0, 1, 2, 12)] == [
        False, True, True, True, True, False, False]
    assert campaign_in_window(FirmwareCampaign(), at_local(12))  # no window: any time
    with pytest.raises(DomainError, match="both"):
        campaign_create(name="half a window", image=image, window_start=clock(2), serials=["Q-1"])
    assert campaign.targets.get().state == "updating"


def test_an_update_with_no_news_stalls_and_the_campaign_counts_it_failed(transactional_db, three_boxes, image,
                                                                          settings):
    settings.FIRMWARE_UPDATE_STALL_MINUTES = 30
    campaign = campaign_create(name="stall", image=image, serials=["Q-1", "Q-2"])
    campaigns_drive()
    for command in Command.objects.all():
        command_settle(command_id=command.pk, outcome=Outcome.answered({}))
    q1, q2 = three_boxes[:2]
    firmware_status_record(box=q1, status="Downloading")
    firmware_status_record(box=q2, status="Downloaded")

    campaigns_drive(now=timezone.now() + timedelta(minutes=20))
    assert targets(campaign) == {"Q-1": "updating", "Q-2": "updating"}
    firmware_status_record(box=q2, status="Installing")  # news: Q-2 is not silent
    FirmwareUpdate.objects.filter(box=q2).update(last_status_at=timezone.now() + timedelta(minutes=15))
    campaigns_drive(now=timezone.now() + timedelta(minutes=31))
    assert states(campaign) == {"Q-1": ("failed", "stalled", "no news for 30 minutes after Downloading"),
                                "Q-2": ("updating", "install", "Installing")}
    stalled = FirmwareUpdate.objects.get(box=q1)
    assert stalled.state == "Stalled" and stalled.stalled_at is not None
    assert campaign_progress(campaign)["counts"]["failed"] == 1
    # A stalled box that speaks again is news for its update; the campaign retries it on demand.
    firmware_status_record(box=q1, status="Downloaded")
    stalled.refresh_from_db()
    assert (stalled.state, stalled.stalled_at) == ("Downloaded", None)
    assert campaign_retry_failed(campaign) == 1


def test_a_damaged_image_is_sent_to_no_box(transactional_db, three_boxes, image):
    Path(image.file.path).write_bytes(IMAGE[:-1] + b"X")  # the same size, another content
    campaign = campaign_create(name="damaged", image=image, serials=["Q-1"])
    assert campaigns_drive() == 0 and Command.objects.count() == 0
    campaign.refresh_from_db()
    image.refresh_from_db()
    assert campaign.state == "paused" and "does not match the upload" in campaign.problem
    assert image.problem.startswith("the file on disk does not match the upload") and image.verified_at
    assert campaign_progress(campaign)["problem"] == campaign.problem


def test_a_selection_that_names_unknown_boxes_or_none_is_refused(transactional_db, three_boxes, image):
    with pytest.raises(DomainError, match="NOPE") as refused:
        campaign_create(name="x", image=image, serials=["Q-1", "NOPE"])
    assert refused.value.field == "serials"
    with pytest.raises(DomainError, match="no charge box matches"):
        campaign_create(name="x", image=image, vendor="Nobody")
    with pytest.raises(DomainError, match="at least one"):
        campaign_create(name="x", image=image, max_concurrent=0, serials=["Q-1"])
    assert campaign_create(name="all", image=image).targets.count() == 3
    assert FirmwareCampaign.objects.count() == 1


def test_the_admin_shows_progress_polled_the_csv_and_the_verbs(transactional_db, three_boxes, image, admin_client):
    campaign = campaign_create(name="admin", image=image, max_concurrent=1, serials=["Q-1", "Q-2"])
    campaigns_drive()
    base = f"/admin/firmware/firmwarecampaign/{campaign.pk}"
    page = admin_client.get(f"{base}/change/")
    assert page.status_code == 200 and b"data-progress-src" in page.content and b"Outcome CSV" in page.content
    progress = admin_client.get(f"{base}/progress.json").json()
    assert (progress["total"], progress["counts"]["updating"], progress["counts"]["pending"], progress["percent"]) == (
        2, 1, 1, 0.0)
    assert admin_client.post(f"{base}/do/pause").status_code == 302
    assert admin_client.get(f"{base}/progress.json").json()["state"] == "paused"
    assert admin_client.get(f"{base}/do/pause").status_code == 405
    answer = admin_client.get(f"{base}/outcome.csv")
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert rows[0] == ["box", "state", "step", "box_said", "attempts", "changed", "firmware_version"]
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [("Q-1", "updating", "command"), ("Q-2", "pending", "")]


def test_the_admin_makes_a_campaign_from_a_selection_and_refuses_a_bad_one(transactional_db, three_boxes, image,
                                                                            admin_client):
    form = {"name": "by form", "image": image.pk, "max_concurrent": 10, "serials": "Q-1\nQ-3"}
    answer = admin_client.post("/admin/firmware/firmwarecampaign/add/", {**form, "serials": "Q-1\nNOPE"})
    assert answer.status_code == 200 and b"NOPE" in answer.content and FirmwareCampaign.objects.count() == 0
    answer = admin_client.post("/admin/firmware/firmwarecampaign/add/", form)
    assert answer.status_code == 302
    campaign = FirmwareCampaign.objects.get()
    assert sorted(targets(campaign)) == ["Q-1", "Q-3"] and campaign.selection == "2 boxes named"


def test_installed_after_the_confirming_boot_is_not_flagged_but_a_second_one_after_done_is(transactional_db,
                                                                                              three_boxes, image):
    campaign_create(name="late", image=image, serials=["Q-1"])
    campaigns_drive()
    command_settle(command_id=Command.objects.get().pk, outcome=Outcome.answered({}))
    FirmwareUpdate.objects.update(confirmed_at=timezone.now())  # the boot's confirmation came first
    box = three_boxes[0]
    assert firmware_status_record(box=box, status="Installed").problem == ""
    assert firmware_status_record(box=box, status="Downloading").problem.startswith("no update was sent")


def test_each_box_gets_its_update_through_its_own_protocols_edge(transactional_db, make_box, image):
    from chargers.models import ChargeBox

    for serial, protocol in (("P-OCPP", "ocpp1.6"), ("P-KOTO", "kotodian"), ("P-REST", "evchong")):
        make_box(serial, connectors=1)
        ChargeBox.objects.filter(serial=serial).update(protocol=protocol, connected_node="test-node")
    campaign = campaign_create(name="mixed", image=image, serials=["P-OCPP", "P-KOTO", "P-REST"])
    assert campaigns_drive() == 3
    assert states(campaign) == {
        "P-OCPP": ("updating", "command", "queued"),
        "P-KOTO": ("updating", "command", "queued"),
        # EVCHONG REST boxes only report (firmwareStatusNotify): no call reaches them.
        "P-REST": ("failed", "command", "the charge box speaks EVCHONG REST, which has no channel for commands"),
    }
    assert sorted(Command.objects.values_list("box__serial", "action", "source")) == [
        ("P-KOTO", "UpdateFirmware", "campaign"), ("P-OCPP", "UpdateFirmware", "campaign")]


def test_the_beat_runs_the_campaigns_through_a_real_worker(celery_worker, three_boxes, image):
    from django.conf import settings

    from commands.tasks import campaigns_drive as task

    assert settings.CELERY_BEAT_SCHEDULE["firmware-campaigns"]["task"] == task.name
    campaign = campaign_create(name="beat", image=image, max_concurrent=2, serials=["Q-1", "Q-2", "Q-3"])
    task.delay()  # as the beat sends it; the worker runs it
    eventually(lambda: sorted(targets(campaign).values()) == ["pending", "updating", "updating"], timeout=30,
               what="two boxes started by the worker")
    assert Command.objects.filter(source="campaign").count() == 2


def test_a_simulated_box_that_goes_silent_is_stalled_and_retried(runner, make_box, image, settings):
    settings.FIRMWARE_UPDATE_STALL_MINUTES = 0.05  # three seconds
    make_box("ST-1", connectors=1)
    box = runner.box("ST-1", "T1", connectors=1, firmware_fail="silent")
    campaign = campaign_create(name="silent", image=image, serials=["ST-1"])
    drive_until_finished(campaign)
    assert states(campaign) == {"ST-1": ("failed", "stalled", "no news for 0.05 minutes after Downloaded")}
    box.settings.firmware_fail = ""
    assert campaign_retry_failed(campaign) == 1
    drive_until_finished(campaign)
    assert states(campaign) == {"ST-1": ("done", "boot", "booted with 2.0")}
