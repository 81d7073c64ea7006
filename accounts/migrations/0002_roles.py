from django.contrib.auth.management import create_permissions
from django.db import migrations

from accounts.roles import roles_sync


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; make them now so the
    # roles can be granted theirs in this migration.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_sync(group_model=apps.get_model("auth", "Group"), permission_model=apps.get_model("auth", "Permission"))


def remove_roles(apps, schema_editor):
    from accounts.enums import Role

    apps.get_model("auth", "Group").objects.filter(name__in=[r.value for r in Role]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("customers", "0001_initial"),
        ("inbox", "0001_initial"),
        ("channels_app", "0001_initial"),
        ("ai_agent", "0001_initial"),
        ("analytics", "0001_initial"),
        ("marketing", "0001_initial"),
        ("compliance", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
