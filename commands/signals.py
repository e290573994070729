"""What the commands app tells the apps above it, which it must not import."""

from django.dispatch import Signal

# Sent by command_settle inside its transaction, with ``command``, when a command ends (accepted,
# rejected, failed or timed out): once per command.
command_finished = Signal()
