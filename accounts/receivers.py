from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from .roles import roles_sync


@receiver(post_migrate)
def sync_role_permissions(sender, app_config=None, **kwargs) -> None:
    """Grant the roles their permissions once every app's permissions exist, so models
    added by later migrations are covered without a new data migration."""
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if app_config is with_models[-1]:
        roles_sync(group_model=Group, permission_model=Permission)
