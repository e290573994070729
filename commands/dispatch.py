"""Handing committed commands to the Celery workers, several to a message when they come together.

A Celery publish cost about 1.1 ms of CPU (building the message and its headers, kombu's retry
wrapper, a new Redis client per publish), about 40 % of a reverse call's issue step, and the
worker paid its own per message again. Here the issuing thread only appends the command's id; one
thread per process publishes what has gathered since its last publish as one ``deliver_commands``
message. A quiet system sends each command alone at once; a burst sends a few messages of many.

An id taken here is committed already: if the process dies before publishing it, the command is
left queued and the sweep ends it as timed out (COMMAND_STALE_SECONDS), as when a process died
between the commit and the publish before.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading

log = logging.getLogger(__name__)

# At most this many commands per message: one worker thread delivers them one after another.
BATCH_MAX = 50


class Dispatcher:
    def __init__(self, publish):
        self._publish = publish  # publish(list of command ids): one message
        self._ids: list[int] = []
        self._busy = False
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, command_id: int) -> None:
        with self._condition:
            if self._pid != os.getpid():  # a forked child has the list, but not the thread
                self._pid, self._ids, self._busy, self._thread = os.getpid(), [], False, None
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="evchong-dispatch", daemon=True)
                self._thread.start()
            self._ids.append(command_id)
            self._condition.notify_all()

    def flush(self, timeout: float = 5) -> bool:
        """Wait until nothing is waiting to be published nor being published (a process about to
        exit); False if that did not happen within ``timeout``."""
        if self._pid != os.getpid():
            return True  # nothing was added in this process
        with self._condition:
            return self._condition.wait_for(lambda: not self._ids and not self._busy, timeout)

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._ids)
                ids, self._ids = self._ids[:BATCH_MAX], self._ids[BATCH_MAX:]
                self._busy = True
            try:
                self._publish(ids)
            except Exception:
                # The broker is away (kombu has retried already): the commands fail, saying so,
                # rather than wait in the queued state for the sweep to time them out.
                log.exception("commands %s could not be handed to the workers", ids)
                _fail(ids)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()


def _publish(ids: list[int]) -> None:
    from commands.tasks import deliver_commands

    deliver_commands.delay(ids)


def _fail(ids: list[int]) -> None:
    """Commands whose message may not have reached the broker end as failed, those still queued
    only: a publish that raised may still have been queued, and a worker may have sent it already.
    Never raises: this thread must live on for the commands that come next."""
    from django.db import connection

    from commands.models import CommandState
    from commands.services import command_record_outcome

    outcome = {"status": "error", "code": "InternalError",
               "description": "the command could not be handed to the workers (message broker unavailable)"}
    for command_id in ids:
        try:
            command_record_outcome(command_id=command_id, outcome=outcome, states=[CommandState.QUEUED])
        except Exception:
            # The row may be settled while waking its waiter failed (the broker is our Redis too).
            log.exception("command %s: its failure could not be recorded, or its waiter woken", command_id)
    try:
        connection.close()  # this thread lives on: the connection goes back to the pool
    except Exception:
        log.exception("closing the dispatcher's database connection")


dispatcher = Dispatcher(_publish)
atexit.register(dispatcher.flush)


def dispatch_on_commit(command_id: int) -> None:
    """Hand the command to the workers once the transaction creating it commits."""
    from django.db import transaction

    transaction.on_commit(lambda: dispatcher.add(command_id))
