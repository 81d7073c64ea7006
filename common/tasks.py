from celery import shared_task
from django.core import management


@shared_task
def housekeeping_clear_expired_sessions() -> None:
    management.call_command("clearsessions")
