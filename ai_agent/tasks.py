"""The AI's tasks: thin, each safe to run twice."""

from celery import shared_task
from django.core.cache import cache

# One turn at a time per conversation; a second task waits for the first (and, should a
# worker die mid-turn, for the lock to lapse: it retries for longer than BUSY_SECONDS).
BUSY_SECONDS = 180
RETRY_SECONDS = 2


@shared_task(bind=True, max_retries=BUSY_SECONDS // RETRY_SECONDS + 10)
def ai_reply(self, conversation_id: int) -> int:
    """Answers the conversation's unanswered customer messages (if the AI holds it)."""
    from .services.pipeline import ai_respond_all

    key = f"ai:busy:{conversation_id}"
    if not cache.add(key, 1, BUSY_SECONDS):
        raise self.retry(countdown=RETRY_SECONDS)
    try:
        return len(ai_respond_all(conversation_id))
    finally:
        cache.delete(key)


@shared_task
def knowledge_ingest(document_id: int, force: bool = False) -> str:
    from .knowledge.ingest import document_ingest
    from .models import KnowledgeDocument

    document = KnowledgeDocument.objects.filter(pk=document_id).first()
    if document is None:
        return "gone"
    return document_ingest(document, force=force).status


@shared_task
def housekeeping_knowledge_refresh() -> int:
    """Periodic: re-reads the web pages of the knowledge base; a page whose content
    changed is re-indexed (an unchanged one costs one request)."""
    from .models import KnowledgeDocument

    pages = KnowledgeDocument.objects.filter(is_active=True).exclude(url="")
    for document_id in pages.values_list("pk", flat=True):
        knowledge_ingest.delay(document_id)
    return pages.count()
