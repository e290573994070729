"""A command to a box with a deadline of its own, as the OCPP edge delivers commands, for tests of
the consumer's call handling (ocpp16.consumer) and of the simulator's answers."""

import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from chargers.services import box_get
from commands.models import Command, CommandState
from commands.replies import command_wait
from commands.services import box_command_channel, command_validate
from ocpp16.delivery import box_group


def call_box_sync(serial: str, action: str, payload: dict, timeout: float | None = None) -> dict:
    """A command to the box with a deadline of ``timeout`` seconds, and its outcome as the row says."""
    timeout = settings.OCPP_CALL_TIMEOUT if timeout is None else timeout
    box = box_get(serial=serial, require_accepted=False)
    command_validate(box=box, action=action, payload=payload)
    if box_command_channel(box) is not None:
        return {"status": "offline"}
    command = Command.objects.create(box=box, action=action, payload=payload, state=CommandState.SENT)
    async_to_sync(get_channel_layer().group_send)(box_group(serial), {
        "type": "ocpp.call", "action": action, "payload": payload, "command_id": command.pk,
        "deadline": time.time() + timeout})
    command = command_wait(command, timeout + 2)
    if command.state in (CommandState.ACCEPTED, CommandState.REJECTED):
        return {"status": "answered", "payload": command.response}
    if command.state == CommandState.TIMED_OUT or command.is_open:  # the caller stopped waiting
        return {"status": "timeout"}
    if command.error_code == "Offline":
        return {"status": "offline"}
    return {"status": "error", "code": command.error_code, "description": command.error_description}
