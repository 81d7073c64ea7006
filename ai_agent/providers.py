"""Which model a profile talks to: its own fields, else the AI_* settings. None means no
provider is configured, and the offline engine answers."""

from django.conf import settings

from .llm import ProviderSettings
from .models import AiProfile


def chat_provider(profile: AiProfile) -> ProviderSettings | None:
    base_url = profile.base_url or settings.AI_BASE_URL
    model = profile.model or settings.AI_MODEL
    if not base_url or not model:
        return None
    return ProviderSettings(
        base_url=base_url,
        api_key=profile.api_key or settings.AI_API_KEY,
        model=model,
        timeout=profile.timeout,
        max_retries=profile.max_retries,
        max_output_tokens=profile.max_output_tokens,
        temperature=profile.temperature,
        input_price_per_million=profile.input_price_per_million,
        output_price_per_million=profile.output_price_per_million,
    )


def embedding_provider() -> ProviderSettings | None:
    """The one embedding model of the knowledge base (AI_EMBEDDING_*), or None."""
    if not settings.AI_EMBEDDING_MODEL or not settings.AI_EMBEDDING_BASE_URL:
        return None
    return ProviderSettings(
        base_url=settings.AI_EMBEDDING_BASE_URL,
        api_key=settings.AI_EMBEDDING_API_KEY,
        model=settings.AI_EMBEDDING_MODEL,
        embedding_model=settings.AI_EMBEDDING_MODEL,
        timeout=30,
    )
