import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("switchboard", task_cls="common.celery_task:SwitchboardTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.celeryd_init.connect
def _without_database_pool(**kwargs):
    """A prefork worker runs one task at a time per process: it needs one connection, not a
    pool (which Celery would close after every task anyway)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database.get("OPTIONS", {}).pop("pool", None) is not None:
        database["CONN_MAX_AGE"] = 0
        database["CONN_HEALTH_CHECKS"] = True
