"""What the transactions app tells the apps above it, which it must not import."""

from django.dispatch import Signal

# Sent by transaction_start inside its transaction, with ``connector``, when a box starts a new
# session there (not a replay). The commands app ends the remote-start claims on that connector.
session_started = Signal()
