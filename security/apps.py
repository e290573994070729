from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "security"
    verbose_name = "security: API tokens and audit trail"

    def ready(self):
        from security import schema  # noqa: F401  (registers the token scheme with drf-spectacular)
