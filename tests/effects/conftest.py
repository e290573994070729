"""A box that can take commands without a real connection: calls are issued as rows and their
answers recorded with command_record_outcome, as the OCPP consumer does."""

import pytest

from commands.services import command_issue, command_record_outcome


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
        outcome = outcome or {"status": "answered", "payload": answer}
        return command_record_outcome(command_id=command.pk, outcome=outcome)

    return issue_and_answer
