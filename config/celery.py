import os

from celery import Celery, signals
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("switchboard", task_cls="common.celery_task:SwitchboardTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.celeryd_init.connect
def _worker_database_settings(**kwargs):
    """A prefork worker runs one task at a time per process: it keeps one connection for
    many tasks (a new one per task cost a quarter of an inbound event's time), not a pool."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    database.get("OPTIONS", {}).pop("pool", None)
    database["CONN_MAX_AGE"] = settings.WORKER_DATABASE_CONN_MAX_AGE
    database["CONN_HEALTH_CHECKS"] = True


@signals.task_prerun.connect
def _database_connection_checked(task=None, **kwargs):
    """Before each task, as Django does before each request: drops a connection that broke
    (the database restarted) or outlived CONN_MAX_AGE, so the task opens a fresh one."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()
