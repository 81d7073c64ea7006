from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AiAgentConfig(AppConfig):
    name = "ai_agent"
    verbose_name = _("AI agent")

    def ready(self) -> None:
        from inbox.services.routing import first_line_register

        from . import receivers  # noqa: F401
        from .services.handoff import ai_first_line

        first_line_register(ai_first_line)
