"""What each role may do, as explicit Django permissions held by a group of the role's
name. `roles_sync` applies this table; it runs in a data migration and after every
`migrate`, so permissions of models added later are granted too."""

from .enums import Role

ALL = ("add", "change", "delete", "view")
READ = ("view",)
WORK = ("add", "change", "view")

# role -> [(app_label, model name or "*", actions)]
ROLE_PERMISSIONS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    Role.ADMIN: [("*", "*", ALL)],
    Role.SUPERVISOR: [
        ("customers", "*", ALL),
        ("inbox", "*", ALL),
        ("channels_app", "*", ALL),
        ("ai_agent", "*", ALL),
        ("analytics", "*", ALL),
        ("marketing", "*", ALL),
        ("compliance", "*", READ),
        ("accounts", "user", READ),
    ],
    Role.AGENT: [
        ("customers", "customer", WORK),
        ("customers", "identity", (*WORK, "delete")),
        ("customers", "customernote", (*WORK, "delete")),
        ("customers", "tag", ("add", "view")),
        ("customers", "customerchange", READ),
        ("customers", "attributedefinition", READ),
        ("customers", "mergesuggestion", ("change", "view")),
        ("customers", "mergerecord", ("add", "change", "view")),
        ("inbox", "conversation", ("change", "view")),
        ("inbox", "message", ("add", "view")),
        ("inbox", "team", READ),
        ("inbox", "inbox", READ),
    ],
}

# Roles whose members may open the Django admin site.
ADMIN_SITE_ROLES = {Role.ADMIN, Role.SUPERVISOR}


def permissions_for(role: str, permission_model):
    query = permission_model.objects.none()
    for app_label, model, actions in ROLE_PERMISSIONS[role]:
        matching = permission_model.objects.all()
        if app_label != "*":
            matching = matching.filter(content_type__app_label=app_label)
        if model != "*":
            matching = matching.filter(content_type__model=model)
        pks = [p.pk for p in matching if p.codename.split("_", 1)[0] in actions]
        query = query | permission_model.objects.filter(pk__in=pks)
    return query


def roles_sync(*, group_model, permission_model) -> None:
    for role in Role:
        group, _ = group_model.objects.get_or_create(name=role.value)
        group.permissions.set(permissions_for(role, permission_model))
