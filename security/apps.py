from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "security"
    verbose_name = "security: API tokens and audit trail"
