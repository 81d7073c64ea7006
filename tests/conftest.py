import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories.accounts import AdminFactory, AgentFactory, SupervisorFactory


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
def api_client():
    return APIClient()
