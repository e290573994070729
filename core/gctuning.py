"""The garbage collector of a server process, tuned for thousands of long-lived connections.

With CPython's defaults (a young collection every 700 net allocations of container objects) a
server process spent about a tenth of its time collecting under the bench's steady ingest, and a
full collection, which walks every object of the process, paused everything for about 250 ms
every few seconds (docs/performance.md). Most objects a frame allocates are freed at once by
their reference counts; the collector is only for cycles, such as those a closed connection
leaves behind.

- What the process has loaded before serving (Django, the apps, the libraries) is moved out of the
  collector's sight (``gc.freeze``): it lives as long as the process, and every full collection
  walked it again.
- The young generation is collected after GC_YOUNG_THRESHOLD net allocations instead of 700, so
  the objects of frames still in flight are mostly gone before a collection looks at them. The
  older generations keep CPython's ratios (10 and 10), so cycles are still found, later: about
  fourteen times as many net allocations pass between two full collections, and under the bench's
  ingest none ran in a minute where ten had.
"""

from __future__ import annotations

import gc

from django.conf import settings


def tune() -> None:
    """Apply the settings to this process; called once its application is loaded."""
    young = settings.GC_YOUNG_THRESHOLD
    if young <= 0:
        return  # CPython's defaults
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, old)
    gc.freeze()
