"""Periodic tasks of conversation work (beat: each every 60 s); safe to run twice."""

from celery import shared_task
from django.utils import timezone

from ..services import workflow


@shared_task
def conversations_wake() -> int:
    """Reopens snoozed conversations whose time has come."""
    return workflow.conversations_wake(now=timezone.now())


@shared_task
def conversations_auto_resolve() -> int:
    """Resolves conversations idle longer than their inbox allows."""
    return workflow.conversations_auto_resolve(now=timezone.now())
