from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, register


class CommandsConfig(AppConfig):
    name = "commands"

    def ready(self):
        from commands.services import remote_start_claims_release, remote_stop_hold_release
        from transactions.signals import session_started, session_stopped

        # The audit trail's entry of each command issued is written by a trigger (migration 0002).
        session_started.connect(remote_start_claims_release, dispatch_uid="commands-claims-release")
        session_stopped.connect(remote_stop_hold_release, dispatch_uid="commands-stop-hold-release")


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


@register()
def remote_start_session_wait_within_claim(app_configs, **kwargs):
    """A remote start is linked to its session only while its claim lasts: waiting for the session
    beyond that would wait for a link that can no longer be made."""
    if settings.OCPP_CALL_TIMEOUT + settings.REMOTE_START_SESSION_WAIT > settings.REMOTE_START_CLAIM_SECONDS:
        return [Error(
            f"OCPP_CALL_TIMEOUT + REMOTE_START_SESSION_WAIT ({settings.OCPP_CALL_TIMEOUT} + "
            f"{settings.REMOTE_START_SESSION_WAIT}) must not exceed REMOTE_START_CLAIM_SECONDS "
            f"({settings.REMOTE_START_CLAIM_SECONDS})",
            id="commands.E002",
        )]
    return []
