from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, register


class CommandsConfig(AppConfig):
    name = "commands"

    def ready(self):
        from commands.models import Command
        from commands.services import remote_start_claims_release
        from security.audit import audit_register
        from transactions.signals import session_started

        session_started.connect(remote_start_claims_release, dispatch_uid="commands-claims-release")
        # Every command issued, with who asked (requested_by) and through what (source); its outcome
        # is the command's own row.
        audit_register(Command, fields=["box_id", "action", "payload"], on_change=False,
                       user_field="requested_by", via_field="source")


@register()
def reverse_api_outlasts_the_box(app_configs, **kwargs):
    """EVCHONG 1 f: the reverse API's timeout must exceed the box's, or callers never see its answer."""
    if settings.REVERSE_API_TIMEOUT <= settings.OCPP_CALL_TIMEOUT:
        return [Error(
            f"REVERSE_API_TIMEOUT ({settings.REVERSE_API_TIMEOUT}) must exceed OCPP_CALL_TIMEOUT "
            f"({settings.OCPP_CALL_TIMEOUT})",
            id="commands.E001",
        )]
    return []
