"""The one way in: every message a charge box sends, whatever its protocol, is written here and
only then acknowledged (DESIGN.md 2, "write, then acknowledge").

``inbound.pipeline`` runs a batch of messages: find and check each box, run each message's domain
handler, journal the exchange, note the boxes' signs of life, settle the commands that a box's
answer ends, commit; then the edge sends its answers. An edge brings an ``inbound.edge.Edge``: how
to validate what it parsed, its table of handlers, and how to render an answer or a failure in its
own wire form. ``inbound.writers`` holds the writer threads (core.groupcommit) that run batches.

docs/architecture.md draws the whole path.
"""
