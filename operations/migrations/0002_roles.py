"""The Operations and Field engineer groups. Their permissions are added here for the models that
exist, and by commands.roles.roles_grant_after_migrate for the rest once migrate has created them."""

from django.db import migrations


def roles_create(apps, schema_editor):
    from commands.roles import roles_grant

    roles_grant(apps, schema_editor.connection.alias)


def roles_delete(apps, schema_editor):
    from commands.roles import FIELD_ENGINEER, OPERATIONS

    apps.get_model("auth", "Group").objects.filter(name__in=[OPERATIONS, FIELD_ENGINEER]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(roles_create, roles_delete)]
