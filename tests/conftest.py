import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories.accounts import AdminFactory, AgentFactory, SupervisorFactory
from tests.helpers import database_url_for


@pytest.fixture(autouse=True)
def _clear_cache():
    # Rate-limit counters live in the (real, shared) cache: start every test clean.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def agent(db):
    return AgentFactory()


@pytest.fixture
def supervisor(db):
    return SupervisorFactory()


@pytest.fixture
def admin_user(db):
    return AdminFactory()


@pytest.fixture
def empty_database(django_db_blocker):
    """Creates an empty database on the suite's server; yields its DATABASE_URL."""
    from django.db import connection

    name = "switchboard_scratch"

    def drop():
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    drop()
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    yield database_url_for(name)
    drop()


@pytest.fixture
def api_client():
    return APIClient()
