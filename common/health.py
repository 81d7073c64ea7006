"""Readiness checks: each returns None when healthy, else a short reason."""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor


def check_database() -> str | None:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}: database unreachable"
    return None


def check_migrations() -> str | None:
    try:
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return f"{type(exc).__name__}: cannot read migration state"
    if plan:
        return f"{len(plan)} migration(s) not applied"
    return None


def check_redis() -> str | None:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: redis unreachable"
    finally:
        client.close()
    return None


def readiness() -> tuple[bool, dict[str, str]]:
    """(ready, {check: "ok" or what is wrong})."""
    database = check_database()
    problems = {
        "database": database,
        # Migration state needs the database; don't report the same outage twice.
        "migrations": check_migrations() if database is None else "skipped: database unreachable",
        "redis": check_redis() if settings.USE_REDIS else None,
    }
    checks = {name: problem or "ok" for name, problem in problems.items()}
    if not settings.USE_REDIS:
        checks["redis"] = "not used: in-memory fallback"
    return not any(problems.values()), checks
