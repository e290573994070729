"""What a handler returns when its answer is not all the box is sent."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message


@dataclass(frozen=True)
class ConfThenRequests:
    """``conf`` answers the request; then the bridge sends the box ``requests`` of ours, (messageId,
    message) each under a sequenceId of the central system's (as the tariff a box pulls is sent:
    kotodian-apdu 1.5). Their answers, which no command waits for, are journaled."""

    conf: Message
    requests: tuple[tuple[int, Message], ...]
