"""This process's lease in Redis as a holder of box connections (chargers.presence): written before
the first box is marked connected here, and renewed every third of PRESENCE_LEASE_SECONDS while the process
runs. When the process dies, or its event loop stalls, the lease runs out and every box whose
connected_node names this process is offline, though no disconnect was ever recorded."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import weakref

from django.conf import settings

from chargers.presence import process_lease_renew

log = logging.getLogger(__name__)

# The token tells this process from an earlier one that had the same pid (a container's pid 1):
# the lease of a new process must not revive the connections of a dead one.
PROCESS = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
# The renewing task of each event loop (one in a server process; tests may run several in turn).
_renewing: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def lease_hold() -> None:
    """Once the lease is written and its renewal runs (at once after the first call). Raises what
    writing it raised, for the connection's set-up to refuse the box as busy. Set-ups that find no
    renewal yet each write the lease (harmless) and only one starts the renewal."""
    loop = asyncio.get_running_loop()
    task = _renewing.get(loop)
    if task is not None and not task.done():
        return
    await _renew(node=PROCESS, seconds=settings.PRESENCE_LEASE_SECONDS)
    task = _renewing.get(loop)
    if task is None or task.done():
        _renewing[loop] = loop.create_task(_renew_forever())


async def _renew(**lease) -> None:
    await asyncio.to_thread(process_lease_renew, **lease)


async def _renew_forever() -> None:
    every = settings.PRESENCE_LEASE_SECONDS / 3
    while True:
        await asyncio.sleep(every)
        try:
            await _renew(node=PROCESS, seconds=settings.PRESENCE_LEASE_SECONDS)
        except Exception:
            # Tried again at the next tick; meanwhile the lease may run out, and this process's boxes
            # show offline until it is written again.
            log.exception("the lease of %s could not be renewed", PROCESS)
