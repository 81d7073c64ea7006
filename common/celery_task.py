from datetime import datetime

from celery import Task
from django.conf import settings
from django.utils import timezone


class SwitchboardTask(Task):
    """Base of every task: refuses far-off ETAs. With the Redis broker a task waiting
    past the visibility timeout is delivered again, so it would run twice; long waits
    are rows in the database that a beat task scans."""

    def apply_async(
        self,
        args=None,
        kwargs=None,
        task_id=None,
        producer=None,
        link=None,
        link_error=None,
        shadow=None,
        **options,
    ):
        delay = _delay_seconds(options.get("countdown"), options.get("eta"))
        if delay > settings.TASK_MAX_ETA_SECONDS:
            raise ValueError(
                f"Task {self.name} scheduled {int(delay)} s ahead: with the Redis broker a long "
                "ETA runs twice. Store the timer as a row and scan it from beat."
            )
        return super().apply_async(
            args, kwargs, task_id, producer, link, link_error, shadow, **options
        )


def _delay_seconds(countdown: float | None, eta: datetime | str | None) -> float:
    if countdown:
        return float(countdown)
    if isinstance(eta, str):
        eta = datetime.fromisoformat(eta)
    if isinstance(eta, datetime):
        return (eta - timezone.now()).total_seconds()
    return 0.0
