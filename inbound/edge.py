"""What a protocol edge brings to the inbound pipeline: a message, a handler table, and an Edge
that validates and renders in the protocol's own terms."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chargers.choices import Direction
from chargers.models import ChargeBox
from commands.models import Command
from commands.outcomes import Outcome


@dataclass
class Handler:
    """A domain handler of one message kind: ``run(box, request) -> answer`` (the answer in the
    edge's terms, rendered by the edge), raising DomainError (or the edge's own error) to refuse."""

    run: Callable[[ChargeBox | None, Any], Any]
    # The box must be registered (else UnknownChargeBox) and accepted (else ChargeBoxNotAccepted):
    # only a boot may come from a box that is not (OCPP 1.6 §4.2, EVCHONG 2.1).
    known_box_only: bool = True
    accepted_only: bool = True
    # False for handlers that only read: the pipeline spares them a savepoint of their own.
    writes: bool = True
    # The handler rewrites the box's row (a boot: firmware, model, last boot): a connection's copy
    # of the box is read again for its next message.
    rewrites_box: bool = False
    # Many messages of this kind at once, ``[(box, request)] -> [answer or exception]``, in a
    # constant number of statements (meter values, boots and status reports of a storm).
    batch: Callable[[list[tuple[ChargeBox, Any]]], list[Any]] | None = None


@dataclass(eq=False)
class Message:
    """One message's database work. ``request`` set (by the edge, or by ``Edge.prepare``) means a
    request to handle and answer; without it the message is only journaled: an answer from the box
    to a call of ours (which may settle a command) or a call of ours that no answer will settle."""

    edge: Edge
    raw: Any  # as it arrived: text, bytes, or a document the edge parsed already
    direction: str = Direction.IN
    action: str = ""
    box: ChargeBox | None = None  # the box a connection holds; else found by ``serial`` in the batch
    serial: str = ""
    credentials: str = ""  # what the box presented, for edges that authenticate each message
    request: Any = None
    reference: Any = None  # what the answer must quote: OCPP's unique id, Kotodian's sequenceId
    handler: Handler | None = None
    answers: bool = False  # a request: answered with ``result`` or ``failure``
    failure: Exception | None = None  # the request was broken or refused: answered with this
    result: Any = None
    reply: Any = None  # the answer as the edge sends it
    # A call of ours that this message answers: journaled just before it.
    sent: str = ""
    # The command this message answers, and what became of it.
    command_id: int | None = None
    outcome: Outcome | None = None
    settled: Command | None = field(default=None, repr=False)
    gone: bool = False  # a box held by a connection was deleted (in the admin) meanwhile
    future: asyncio.Future | None = field(default=None, repr=False)

    def fail(self, exc: Exception) -> None:
        self.failure, self.result = exc, None

    def reset(self) -> None:
        """Undo what a batch that failed as a whole left here, before the message is written alone;
        the box is read again (the usual cause is a box deleted while connected)."""
        self.result = self.reply = self.settled = None
        if self.serial:
            self.box = None
        elif self.box is not None:
            self.box.read_at = None


class Edge(ABC):
    """A protocol's part in the inbound pipeline. Nothing here writes: the pipeline does."""

    protocol: str  # chargers.choices.Protocol
    handlers: dict[str, Handler]

    def prepare(self, message: Message) -> None:
        """Parse and validate what the database need not see (no queries): set ``request``,
        ``action``, ``serial`` and ``handler``; raise to refuse the message."""

    def check_credentials(self, box: ChargeBox, message: Message) -> None:
        """Raise when ``message`` may not speak for ``box`` (edges that authenticate per message)."""

    @abstractmethod
    def render(self, message: Message) -> Any:
        """The answer to send: ``message.result`` or ``message.failure``, in the edge's wire form."""

    @abstractmethod
    def journal_text(self, message: Message, reply: Any = None) -> str:
        """What the journal keeps of ``message`` (or, given ``reply``, of the answer to it)."""

    @abstractmethod
    def internal_error(self, message: Message) -> Any:
        """The answer to a message that could not be written even alone."""

    def name(self, message: Message) -> str:
        return f"{self.protocol} {message.action or 'message'}"
