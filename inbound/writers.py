"""The writer threads that run the inbound pipeline (core.groupcommit): each takes whatever messages
are waiting and writes them in one transaction; a message's submitter is woken after the commit,
with its answer."""

from __future__ import annotations

import logging

from django.db import transaction

from core.groupcommit import GroupCommit
from inbound.edge import Message
from inbound.pipeline import batch_write, outcome_store

log = logging.getLogger(__name__)


class Writers(GroupCommit):
    """The writer threads of one edge in one process."""

    def __init__(self, name: str, writers: int, batch: int):
        super().__init__(writers, batch)
        self.name = name

    async def submit(self, message: Message) -> Message:
        """``message`` written and committed, its ``reply`` set (for a request)."""
        await self.submit_and_wait(message)
        return message

    def write_batch(self, jobs: list[Message], *, alone: bool) -> None:
        batch_write(jobs, bulk=not alone)

    def write_failed(self, job: Message) -> None:
        if job.answers:
            job.reply = job.edge.internal_error(job)
        if job.command_id is None:
            return
        # The message could not be written even alone: the box's answer is still its command's,
        # written on its own (outcome_store's rule), not left for the sweep.
        try:
            with transaction.atomic():
                outcome_store(job)
        except Exception:
            log.exception("command %s left open; the sweep will end it", job.command_id)

    def job_reset(self, job: Message) -> None:
        job.reset()

    def job_name(self, job: Message) -> str:
        return job.edge.name(job)
