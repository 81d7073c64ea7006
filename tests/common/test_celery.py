import pytest
from celery import shared_task

from config.celery import app


@shared_task(name="tests.tasks.noop")
def noop() -> None:
    return None


def _queue_of(task_name: str) -> str:
    route = app.amqp.router.route({}, task_name, args=(), kwargs={})
    return route["queue"].name


def test_work_is_routed_to_separate_queues():
    assert _queue_of("channels_app.tasks.inbound_process_event") == "inbound"
    assert _queue_of("channels_app.tasks.outbound_deliver") == "outbound"
    assert _queue_of("common.tasks.housekeeping_clear_expired_sessions") == "housekeeping"
    assert _queue_of("ai_agent.tasks.ai_reply") == "ai"  # waits on a model: its own worker
    assert _queue_of("ai_agent.tasks.knowledge_ingest") == "ai"


def test_a_killed_workers_task_runs_again_and_only_json_is_accepted():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json" and list(conf.accept_content) == ["json"]
    assert conf.task_time_limit < conf.broker_transport_options["visibility_timeout"]


def test_a_far_off_eta_is_refused_before_it_reaches_the_broker():
    with pytest.raises(ValueError, match="long ETA runs twice"):
        noop.apply_async(countdown=3600)


@pytest.mark.django_db
def test_the_session_cleanup_task_runs(django_capture_on_commit_callbacks):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    Session.objects.create(session_key="x" * 32, session_data="", expire_date=timezone.now())
    from common.tasks import housekeeping_clear_expired_sessions

    housekeeping_clear_expired_sessions.apply()
    assert not Session.objects.filter(session_key="x" * 32).exists()


def test_a_far_off_eta_date_is_refused_too():
    from datetime import timedelta

    from django.utils import timezone

    with pytest.raises(ValueError, match="long ETA runs twice"):
        noop.apply_async(eta=timezone.now() + timedelta(hours=2))
