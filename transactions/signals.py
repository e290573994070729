"""What the transactions app tells the apps above it, which it must not import."""

from django.dispatch import Signal

# Sent by transaction_start inside its transaction, with ``connector`` and ``session`` (the new
# Transaction row), when a box starts a new session there (not a replay). The commands app ends the
# remote-start claims on that connector and tells the remote start which session it became.
session_started = Signal()

# Sent by transaction_stop inside its transaction, with ``box`` and ``transaction_id``, when a stop
# closes an open session. The commands app ends the hold of a remote stop sent for it.
session_stopped = Signal()
