"""What became of a call to a box, as the edge that holds the box reports it."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models


class OutcomeKind(models.TextChoices):
    ANSWERED = "answered"  # the box answered; ``payload`` is its answer
    ERROR = "error"  # the box answered with an error, or its answer was broken
    TIMEOUT = "timeout"  # no answer in time
    OFFLINE = "offline"  # the box was not connected, or went away before answering


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    payload: dict = field(default_factory=dict)
    code: str = ""
    description: str = ""

    @classmethod
    def answered(cls, payload: dict) -> Outcome:
        return cls(OutcomeKind.ANSWERED, payload=payload)

    @classmethod
    def error(cls, code: str, description: str) -> Outcome:
        return cls(OutcomeKind.ERROR, code=code, description=description)

    @classmethod
    def timeout(cls) -> Outcome:
        return cls(OutcomeKind.TIMEOUT)

    @classmethod
    def offline(cls, description: str = "") -> Outcome:
        return cls(OutcomeKind.OFFLINE, description=description)
