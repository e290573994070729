from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, register


class CommandsConfig(AppConfig):
    name = "commands"

    def ready(self):
        from commands.services import remote_start_claims_release
        from transactions.signals import session_started

        # The audit trail's entry of each command issued is written by a trigger (migration 0002).
        session_started.connect(remote_start_claims_release, dispatch_uid="commands-claims-release")


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
