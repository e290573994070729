from django.db import models


class CommandRight(models.Model):
    """No table: the permissions that say who may send which Central-System command
    (see commands.roles.command_allowed, the one place that reads them)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("send_all_commands", "Can send every OCPP command to charge boxes"),
            ("send_diagnostic_commands", "Can send diagnostic OCPP commands to charge boxes"),
        ]
