"""How commands reach boxes: each protocol edge that can call a box registers here (in its
AppConfig.ready) which actions it sends, how it validates a payload before the command is issued,
and how it delivers commands to the boxes it holds. The commands app itself imports no edge."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.errors import DomainError


class CommandInvalid(DomainError):
    """An action the box's protocol has no call for, or a payload its schema refuses; ``field`` is
    "action" or "payload", ``code`` the protocol's own name for the problem."""

    def __init__(self, message: str, *, field: str, code: str = ""):
        super().__init__(message, field=field)
        self.code = code


@dataclass(frozen=True)
class CommandEdge:
    protocol: str  # chargers.choices.Protocol
    actions: frozenset[str]
    # validate(action, payload): raises CommandInvalid; the payload as it will be sent.
    validate: Callable[[str, dict], None]
    # deliver(commands): hands claimed commands to the connections holding their boxes, each box's
    # in the order given; returns the ids of those it could not hand on. The edge settles each
    # command (commands.services.command_settle) when the box answers, times out or goes away.
    deliver: Callable[[list], Awaitable[list[int]]]


EDGES: dict[str, CommandEdge] = {}
# Seconds an edge may take to hand one command to its box's connection (a few Redis round trips);
# longer, the command fails as undeliverable.
HAND_OVER_TIMEOUT = 30


def command_edge_register(edge: CommandEdge) -> None:
    EDGES[edge.protocol] = edge


def command_edge(protocol: str) -> CommandEdge | None:
    return EDGES.get(protocol)


def command_actions() -> list[str]:
    """Every action some edge can send, for choices and filters."""
    return sorted({action for edge in EDGES.values() for action in edge.actions})
