from celery import shared_task

from firmware.services import diagnostics_sweep as sweep_diagnostics
from firmware.services import firmware_updates_confirm, firmware_updates_stall


@shared_task
def updates_confirm() -> int:
    # A sweep, not a hook in the boot path: boots come in storms through every edge's batch, and
    # an update is confirmed within a minute of the boot that reports its version.
    confirmed = firmware_updates_confirm()
    firmware_updates_stall()
    return confirmed


@shared_task
def diagnostics_sweep() -> int:
    return sweep_diagnostics()
