from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.defaults import page_not_found, server_error

from .api.errors import json_not_found, json_server_error
from .health import readiness


@never_cache
@require_GET
def healthz(request):
    """The process is alive and answering; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """Ready to serve: database reachable, migrations applied, Redis reachable."""
    ready, checks = readiness()
    body = {
        "status": "ready" if ready else "not_ready",
        "checks": checks,
        "channel_layer": "redis" if settings.USE_REDIS else "memory",
        "tasks": "eager" if settings.CELERY_TASK_ALWAYS_EAGER else "celery",
    }
    return JsonResponse(body, status=200 if ready else 503)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return json_not_found(request, exception)
    return page_not_found(request, exception)


def error(request):
    if _is_api(request):
        return json_server_error(request)
    return server_error(request)
