"""SLA sweeper: run by beat every 60 seconds."""

from celery import shared_task

from ..services.sla import sla_breaches_record


@shared_task(ignore_result=True)
def housekeeping_sla_breaches() -> int:
    """Records (once) and notifies every SLA target whose due time has passed."""
    return sla_breaches_record()
