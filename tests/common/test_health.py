import json

import pytest

from tests.helpers import closed_port, database_url_for, run_python

READYZ = (
    "import django, json; django.setup();"
    "from django.test import Client;"
    "r = Client(HTTP_HOST='localhost').get('/readyz');"
    "print(r.status_code, r.content.decode())"
)


def test_healthz_answers_without_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_ready_with_database_redis_and_migrations(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "migrations": "ok", "redis": "ok"}
    assert body["channel_layer"] == "redis"


def _readyz_in_subprocess(**env) -> tuple[int, dict]:
    result = run_python(READYZ, DJANGO_SETTINGS_MODULE="config.settings.test", **env)
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().splitlines()[-1].split(" ", 1)
    return int(status), json.loads(body)


def test_readyz_fails_when_the_database_is_down():
    status, body = _readyz_in_subprocess(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/switchboard"
    )
    assert status == 503
    assert body["status"] == "not_ready"
    assert body["checks"]["database"].endswith("database unreachable")
    assert body["checks"]["redis"] == "ok"


def test_readyz_fails_when_redis_is_down(django_db_setup):
    from django.db import connection

    status, body = _readyz_in_subprocess(
        DATABASE_URL=database_url_for(connection.settings_dict["NAME"]),
        REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
    )
    assert status == 503
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].endswith("redis unreachable")


def test_readyz_fails_when_migrations_are_not_applied(empty_database):
    status, body = _readyz_in_subprocess(DATABASE_URL=empty_database)
    assert status == 503
    assert body["checks"]["database"] == "ok"
    assert "migration(s) not applied" in body["checks"]["migrations"]
