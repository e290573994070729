"""A box that can take commands without a real connection: calls are issued as rows and their
answers recorded with command_settle, as the OCPP consumer does."""

import pytest

from commands.outcomes import Outcome, OutcomeKind
from commands.services import command_issue, command_settle


@pytest.fixture
def box(make_connected_box):
    return make_connected_box("FX-1")


@pytest.fixture
def send():
    """``send(box, action, payload, answer=None, outcome=None)``: issue the command, then record
    the box's ``answer`` payload or another ``outcome`` ({"status": "timeout"}, ...). Returns the
    command as recorded; a command refused at issue is returned as it is."""

    def issue_and_answer(box, action, payload, answer=None, outcome=None):
        command = command_issue(box=box, action=action, payload=payload, source="test")
        if command.state == "rejected" or (answer is None and outcome is None):
            return command
        if outcome is None:
            outcome = Outcome.answered(answer)
        elif isinstance(outcome, dict):
            outcome = Outcome(OutcomeKind(outcome["status"]), payload=outcome.get("payload") or {})
        return command_settle(command_id=command.pk, outcome=outcome)

    return issue_and_answer
