from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="CommandRight",
            fields=[("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"))],
            options={
                "managed": False,
                "default_permissions": (),
                "permissions": [
                    ("send_all_commands", "Can send every OCPP command to charge boxes"),
                    ("send_diagnostic_commands", "Can send diagnostic OCPP commands to charge boxes"),
                ],
            },
        ),
    ]
