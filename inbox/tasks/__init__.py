"""Thin tasks: each takes ids and calls a service; all are safe to run twice."""

from .routing import routing_route_conversation  # noqa: F401
from .sla import housekeeping_sla_breaches  # noqa: F401
from .workflow import conversations_auto_resolve, conversations_wake  # noqa: F401
