from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "operations"

    def ready(self):
        from commands.roles import roles_grant_after_migrate

        # Models added by later migrations (of any app) join the roles' permissions here; the
        # groups themselves come from this app's data migration.
        post_migrate.connect(roles_grant_after_migrate, dispatch_uid="operations-roles-grant")
