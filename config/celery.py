import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("switchboard", task_cls="common.celery_task:SwitchboardTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
