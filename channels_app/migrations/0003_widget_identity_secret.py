# Each existing widget gets its own random identity secret: the column is added nullable,
# filled row by row, then made required (a default in AddField would give every row the
# same value).

import secrets

from django.db import migrations, models

import channels_app.models
import common.fields


def fill_secrets(apps, schema_editor):
    WidgetConfig = apps.get_model("channels_app", "WidgetConfig")
    for config in WidgetConfig.objects.filter(identity_secret__isnull=True).only("pk"):
        config.identity_secret = secrets.token_urlsafe(32)
        config.save(update_fields=["identity_secret"])


class Migration(migrations.Migration):
    dependencies = [
        ("channels_app", "0002_widgetconfig"),
    ]

    operations = [
        migrations.AddField(
            model_name="widgetconfig",
            name="identity_secret",
            field=common.fields.EncryptedTextField(null=True, verbose_name="identity secret"),
        ),
        migrations.RunPython(fill_secrets, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="widgetconfig",
            name="identity_secret",
            field=common.fields.EncryptedTextField(
                default=channels_app.models.new_identity_secret, verbose_name="identity secret"
            ),
        ),
        migrations.AddField(
            model_name="widgetconfig",
            name="require_verified_user",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Refuse setUser calls without a valid hash. Turn on once the website's "
                    "server signs every signed-in user."
                ),
                verbose_name="require verified users",
            ),
        ),
    ]
