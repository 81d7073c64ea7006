from django.db import models

from accounts.models import User
from common.context import request_id_var

from .models import AuditLogEntry


def audit_log_record(
    *,
    action: str,
    actor: User | None = None,
    target: models.Model | None = None,
    ip_address: str | None = None,
    data: dict | None = None,
) -> AuditLogEntry:
    return AuditLogEntry.objects.create(
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        ip_address=ip_address,
        request_id=request_id_var.get() or "",
        data=data or {},
    )
