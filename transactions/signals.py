"""What the transactions app tells the apps above it, which it must not import."""

from django.dispatch import Signal

# Sent by transaction_start inside its transaction, with ``connector``, when a box starts a new
# session there (not a replay). The commands app ends the remote-start claims on that connector.
session_started = Signal()

# Sent by transaction_start inside its transaction, with ``transaction`` (its ``box`` and
# ``connector`` loaded), once the new session is recorded; not for a replay.
session_opened = Signal()

# Sent by transaction_stop inside its transaction, with ``transaction``, once a running session is
# closed and priced; not for a replay of the stop.
session_closed = Signal()
