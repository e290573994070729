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

import logging
import os
import threading

log = logging.getLogger(__name__)

# At most this many commands per message: one worker thread delivers them one after another.
BATCH_MAX = 50


class Dispatcher:
    def __init__(self, publish, fail):
        self._publish = publish  # publish(list of command ids): one message
        self._fail = fail  # fail(list of command ids): what could not be published ends, saying so
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
                self._undeliverable(ids)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

    def _undeliverable(self, ids: list[int]) -> None:
        """Never raises: this thread must live on for the commands that come next."""
        from django.db import connection

        try:
            self._fail(ids)
        except Exception:
            log.exception("commands %s: their failure could not be recorded", ids)
        try:
            connection.close()  # this thread lives on: the connection goes back to the pool
        except Exception:
            log.exception("closing the dispatcher's database connection")
