"""Group commit: writer threads that take whatever work is waiting and commit it together.

Both charge-box edges must have a message in PostgreSQL before they acknowledge it (OCPP 1.6J
frames, ocpp16.committer; EVCHONG forward requests, evchong_api.committer). Done one message at a
time, each cost a pool connection, a BEGIN and a COMMIT (an fsync) and a handful of statements of
its own, and under load messages queued for threads and connections. Here a few writer threads,
each holding its own connection, take whatever jobs are queued (up to ``batch``) and write them in
one transaction; a lone job is written at once, a crowd shares commits. A job's submitter is woken
only once its batch is committed.

If a batch fails as a whole (lost connection, a statement that breaks the transaction, a deadlock)
nothing of it was written: each of its jobs is then written alone, so that one bad job cannot cost
the others their answers, and a job that fails alone gets the edge's own internal-error answer.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from abc import ABC, abstractmethod

from django.db import connection

log = logging.getLogger(__name__)


class GroupCommit(ABC):
    """The writer threads of one process, started on first use. A subclass says how a batch is
    written (``write_batch``), what a job that failed alone answers (``write_failed``) and how a
    job is reset before it is tried again alone (``job_reset``). Jobs have a ``future`` attribute."""

    name = "writer"

    def __init__(self, writers: int, batch: int):
        self.writers, self.batch = writers, batch
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.started = False
        self.lock = threading.Lock()

    @abstractmethod
    def write_batch(self, jobs: list, *, alone: bool) -> None:
        """Write ``jobs`` in one transaction, setting each job's outcome; raise if the transaction
        as a whole failed (``alone``: one job, done through its ordinary path)."""

    @abstractmethod
    def write_failed(self, job) -> None:
        """Give ``job``, which failed even alone, the edge's internal-error answer."""

    def job_reset(self, job) -> None:
        """Undo what a failed batch left on ``job`` before it is written alone."""

    def job_name(self, job) -> str:
        return repr(job)

    async def submit_and_wait(self, job) -> None:
        """Returns once ``job`` is written and committed (or has its failure answer)."""
        job.future = asyncio.get_running_loop().create_future()
        self.start()
        self.queue.put(job)
        await job.future

    def start(self) -> None:
        if self.started:
            return
        with self.lock:
            if not self.started:
                for n in range(self.writers):
                    threading.Thread(target=self.run, name=f"{self.name}-{n}", daemon=True).start()
                self.started = True

    def run(self) -> None:
        while True:
            jobs = [self.queue.get()]
            while len(jobs) < self.batch:
                try:
                    jobs.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            failure = None
            try:
                self.write(jobs)
            except Exception:
                # write() answers failures itself; what escapes it (the failure answer failing as
                # well) must not end this thread: nothing would start it again, and with the last
                # writer gone every frame would wait for ever. Which of the jobs were committed is
                # not known, and an answer set in a transaction rolled back must not be sent: each
                # submitter gets the failure instead and acknowledges nothing (a box then sends
                # again, and replays are idempotent).
                log.exception("a batch of %d left without its answers", len(jobs))
                failure = RuntimeError("the writer could not say whether this was stored")
            self.wake(jobs, failure)

    def wake(self, jobs: list, failure: Exception | None = None) -> None:
        """One wake-up of each event loop per batch, not one per job."""
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for job in jobs:
            by_loop.setdefault(job.future.get_loop(), []).append(job)
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(settle, settled, failure)
            except RuntimeError:  # the submitter's loop is closed: nobody is left to wake
                pass

    def write(self, jobs: list, *, alone: bool = False) -> None:
        try:
            return self.write_batch(jobs, alone=alone)
        except Exception:
            connection.close()  # whatever broke, the next attempt starts on a sound connection
            if alone:
                log.exception("%s not processed", self.job_name(jobs[0]))
                self.write_failed(jobs[0])
                return
            log.warning("a batch of %d failed; writing each alone", len(jobs), exc_info=True)
        for job in jobs:
            self.job_reset(job)
            self.write([job], alone=True)


def settle(jobs: list, failure: Exception | None = None) -> None:
    for job in jobs:
        if not job.future.done():  # the submitter may have gone (its task cancelled) meanwhile
            if failure is None:
                job.future.set_result(None)
            else:
                job.future.set_exception(failure)
