from datetime import datetime

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from .enums import Role
from .models import ApiToken, User
from .roles import ADMIN_SITE_ROLES
from .signals import api_token_created, api_token_revoked, user_role_changed


@transaction.atomic
def user_set_role(*, user: User, role: Role | str, actor: User | None = None) -> User:
    """Make `role` the user's only role; admin-site access follows the role."""
    role = Role(role)
    role_names = [r.value for r in Role]
    user.groups.remove(*Group.objects.filter(name__in=role_names))
    user.groups.add(Group.objects.get(name=role.value))
    user.__dict__.pop("_group_names", None)  # the role read before is no longer true
    user.is_staff = role in ADMIN_SITE_ROLES
    user.is_superuser = role == Role.ADMIN and user.is_superuser
    user.save(update_fields=["is_staff", "is_superuser"])
    transaction.on_commit(
        lambda: user_role_changed.send(sender=User, user=user, role=role, actor=actor)
    )
    return user


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    role: Role | str,
    display_name: str = "",
    actor: User | None = None,
    **fields,
) -> User:
    user = User.objects.create_user(email, password, display_name=display_name, **fields)
    return user_set_role(user=user, role=role, actor=actor)


@transaction.atomic
def api_token_create(
    *, user: User, name: str, expires_at: datetime | None = None, actor: User | None = None
) -> tuple[ApiToken, str]:
    """Returns the token and its key; the key is not stored and cannot be shown again."""
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        key_prefix=key[: len(ApiToken.PREFIX) + 6],
        key_digest=ApiToken.digest(key),
        expires_at=expires_at,
    )
    transaction.on_commit(
        lambda: api_token_created.send(sender=ApiToken, token=token, actor=actor or user)
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User | None = None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        transaction.on_commit(
            lambda: api_token_revoked.send(sender=ApiToken, token=token, actor=actor)
        )
    return token


# How often last_used_at is written: every request would turn reads into writes.
LAST_USED_RESOLUTION_SECONDS = 60


def api_token_authenticate(*, key: str) -> ApiToken | None:
    token = (
        ApiToken.objects.active()
        .select_related("user")
        .filter(key_digest=ApiToken.digest(key), user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if (
        token.last_used_at is None
        or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
