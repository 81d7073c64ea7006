from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # Built without locking out writes: the conversations table is the largest but messages.
    atomic = False

    dependencies = [
        ("inbox", "0004_channel_messages"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="conversation",
            index=models.Index(fields=["-last_message_at", "-id"], name="conv_last_message_idx"),
        ),
    ]
