from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AiAgentConfig(AppConfig):
    name = "ai_agent"
    verbose_name = _("AI agent")
