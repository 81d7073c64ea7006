"""Audit entries for facts other apps announce."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts.signals import api_token_created, api_token_revoked, user_role_changed
from customers.signals import customer_split, customers_merged

from .services import audit_log_record


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs) -> None:
    audit_log_record(action="login", actor=user, target=user, ip_address=_ip(request))


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_log_record(action="logout", actor=user, target=user, ip_address=_ip(request))


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Only the identifier: the password (and any other credential) is never recorded.
    identifier = credentials.get("email") or credentials.get("username") or ""
    audit_log_record(
        action="login_failed", ip_address=_ip(request), data={"email": str(identifier)[:254]}
    )


@receiver(user_role_changed)
def audit_role_changed(sender, user, role, actor, **kwargs) -> None:
    audit_log_record(action="role_changed", actor=actor, target=user, data={"role": str(role)})


@receiver(api_token_created)
def audit_token_created(sender, token, actor, **kwargs) -> None:
    audit_log_record(
        action="api_token_created", actor=actor, target=token, data={"name": token.name}
    )


@receiver(api_token_revoked)
def audit_token_revoked(sender, token, actor, **kwargs) -> None:
    audit_log_record(
        action="api_token_revoked", actor=actor, target=token, data={"name": token.name}
    )


@receiver(customers_merged)
def audit_customers_merged(sender, record, **kwargs) -> None:
    audit_log_record(
        action="customers_merged",
        actor=record.actor,
        target=record.survivor,
        data={
            "merged": record.merged_id,
            "automatic": record.automatic,
            "evidence": record.evidence,
        },
    )


@receiver(customer_split)
def audit_customer_split(sender, record, **kwargs) -> None:
    audit_log_record(
        action="customer_merge_undone",
        actor=record.undone_by,
        target=record.survivor,
        data={"merged": record.merged_id, "merge": record.pk},
    )
