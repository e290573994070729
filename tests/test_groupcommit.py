"""core.groupcommit's writer threads outlive whatever a batch throws at them."""

import asyncio
import threading
from types import SimpleNamespace

import pytest

from core.groupcommit import GroupCommit


class Writer(GroupCommit):
    """Jobs named "bad" fail in their batch, alone, and in their failure answer as well. Each job's
    answer is set inside the "transaction", as the real writers set theirs."""

    def __init__(self):
        super().__init__(writers=1, batch=10)
        self.written = []

    def write_batch(self, jobs, *, alone):
        for job in jobs:
            job.answer = f"answer to {job.name}"
        if any(job.name == "bad" for job in jobs):
            raise RuntimeError("the batch failed")
        self.written += [job.name for job in jobs]

    def write_failed(self, job):
        raise RuntimeError("and so did its failure answer")


def test_a_batch_whose_failure_answer_fails_is_woken_and_the_writer_lives_on(caplog):
    writer = Writer()

    async def submit(name):
        job = SimpleNamespace(name=name)
        await asyncio.wait_for(writer.submit_and_wait(job), 5)  # woken, not left waiting
        return job

    async def scenario():
        # Not woken with the answer of a rolled-back transaction: with the failure.
        with pytest.raises(RuntimeError, match="could not say whether this was stored"):
            await submit("bad")
        assert (await submit("good")).answer == "answer to good"

    asyncio.run(scenario())
    assert writer.written == ["good"]  # the one writer thread wrote the next job
    assert [t for t in threading.enumerate() if t.name == "writer-0" and t.is_alive()]
    assert "a batch of 1 left without its answers" in caplog.text


def test_a_submitter_whose_loop_has_closed_does_not_end_the_writer():
    writer = Writer()
    gone = asyncio.new_event_loop()
    orphan = SimpleNamespace(name="orphan", future=gone.create_future())
    gone.close()
    writer.wake([orphan])  # raised RuntimeError into the writer thread before

    async def scenario():
        await asyncio.wait_for(writer.submit_and_wait(SimpleNamespace(name="next")), 5)

    asyncio.run(scenario())
    assert writer.written == ["next"]
