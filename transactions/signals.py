"""What the transactions app tells the apps above it, which it must not import."""

from django.dispatch import Signal

# Sent by transaction_start inside its transaction, with ``transaction`` (the new row, its ``box``
# and ``connector`` loaded), once a box's new session is recorded (not for a replay). The commands
# app ends the remote-start claims on that connector and tells the remote start which session it
# became; webhooks tell that it started.
session_started = Signal()

# Sent by transaction_stop inside its transaction, with ``transaction``, once a running session is
# closed and priced (not for a replay of the stop). The commands app ends the hold of a remote stop
# sent for it; webhooks tell that it stopped, with its energy and cost.
session_stopped = Signal()
