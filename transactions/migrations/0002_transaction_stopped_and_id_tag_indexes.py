from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # CONCURRENTLY: boxes keep starting and stopping sessions while a large table is indexed.
    atomic = False

    dependencies = [
        ("transactions", "0001_initial"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="transaction",
            index=models.Index(fields=["stopped_at"], name="transaction_stopped"),
        ),
        AddIndexConcurrently(
            model_name="transaction",
            index=models.Index(fields=["id_tag", "-started_at"], name="transaction_id_tag"),
        ),
    ]
