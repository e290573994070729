from celery import shared_task

from firmware.services import firmware_updates_confirm


@shared_task
def updates_confirm() -> int:
    # A sweep, not a hook in the boot path: boots come in storms through every edge's batch, and
    # an update is confirmed within a minute of the boot that reports its version.
    return firmware_updates_confirm()
