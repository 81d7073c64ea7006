"""Ingestion: a document's file or web page becomes chunks with embeddings. Runs in a task;
`status`, `progress` and `error` on the document tell the admin how far it got and why
it stopped. An unchanged file or page (same content hash) is left as it is; a changed one
is re-chunked, and chunks whose text did not change keep their embeddings."""

import hashlib
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..enums import DocumentStatus
from ..llm import ProviderError, embed
from ..models import KnowledgeChunk, KnowledgeDocument
from ..providers import embedding_provider
from .chunking import Chunk, chunk_sections
from .extract import ExtractError, extract_sections
from .fetch import FetchError, fetch_url

logger = logging.getLogger(__name__)

# Embedding requests are made this many chunks at a time, so progress moves and a failure
# loses little.
EMBED_BATCH = 64


def _progress(document: KnowledgeDocument, status: str, progress: int, **fields) -> None:
    KnowledgeDocument.objects.filter(pk=document.pk).update(
        status=status, progress=progress, updated_at=timezone.now(), **fields
    )


def _read(document: KnowledgeDocument) -> tuple[bytes, str, str]:
    """(data, file name, content type) of the document's file or page."""
    if document.url:
        fetched = fetch_url(document.url, allow_private=settings.AI_FETCH_ALLOW_PRIVATE)
        return fetched.data, fetched.filename, fetched.content_type
    with document.file.open("rb") as handle:
        return handle.read(), document.filename or document.file.name, ""


def _search_text(chunk: Chunk) -> str:
    return "\n".join(filter(None, [" / ".join(chunk.headings), chunk.question, chunk.text]))


def _embedded_text(chunk: Chunk) -> str:
    # What is embedded: the question and the heading path carry as much meaning as the text.
    return _search_text(chunk)


def _store_chunks(document: KnowledgeDocument, chunks: list[Chunk]) -> None:
    """Replaces the document's chunks, keeping the embedding of any chunk whose embedded
    text is unchanged."""
    kept = {
        row.text_hash: (row.embedding, row.embedding_model)
        for row in document.chunks.exclude(embedding=None).only(
            "text_hash", "embedding", "embedding_model"
        )
    }
    rows = []
    for chunk in chunks:
        text_hash = KnowledgeChunk.hash_of(_embedded_text(chunk))
        embedding, model = kept.get(text_hash, (None, ""))
        rows.append(
            KnowledgeChunk(
                document=document,
                ordinal=chunk.ordinal,
                headings=list(chunk.headings),
                question=chunk.question,
                text=chunk.text,
                search_text=_search_text(chunk),
                text_hash=text_hash,
                embedding=embedding,
                embedding_model=model,
            )
        )
    with transaction.atomic():
        document.chunks.all().delete()
        KnowledgeChunk.objects.bulk_create(rows, batch_size=500)


def _embed_missing(document: KnowledgeDocument) -> None:
    """Embeds the chunks that have no embedding of the configured model (none: full-text
    retrieval only). Progress runs from 50 to 100 % as batches finish."""
    provider = embedding_provider()
    if provider is None:
        return
    pending = list(
        document.chunks.exclude(embedding_model=provider.embedding_model).only("pk", "search_text")
    )
    for start in range(0, len(pending), EMBED_BATCH):
        batch = pending[start : start + EMBED_BATCH]
        vectors, _usage = embed(provider, [chunk.search_text for chunk in batch])
        for chunk, vector in zip(batch, vectors, strict=True):
            chunk.embedding = vector
            chunk.embedding_model = provider.embedding_model
        KnowledgeChunk.objects.bulk_update(batch, ["embedding", "embedding_model"])
        done = start + len(batch)
        _progress(document, DocumentStatus.PROCESSING, 50 + 50 * done // len(pending))


def document_ingest(document: KnowledgeDocument, *, force: bool = False) -> KnowledgeDocument:
    """Reads, chunks and embeds the document; records failures on it instead of raising
    (the admin shows why). `force` re-indexes an unchanged document too."""
    _progress(document, DocumentStatus.PROCESSING, 5, error="")
    try:
        data, filename, content_type = _read(document)
        content_hash = hashlib.sha256(data).hexdigest()
        if content_hash == document.content_hash and not force and document.chunk_count:
            _embed_missing(document)
        else:
            _progress(document, DocumentStatus.PROCESSING, 20)
            sections = extract_sections(data, filename=filename, content_type=content_type)
            chunks = chunk_sections(sections)
            _store_chunks(document, chunks)
            KnowledgeDocument.objects.filter(pk=document.pk).update(
                content_hash=content_hash, chunk_count=len(chunks)
            )
            _progress(document, DocumentStatus.PROCESSING, 50)
            _embed_missing(document)
    except (ExtractError, FetchError) as error:
        _progress(document, DocumentStatus.FAILED, 0, error=str(error))
    except ProviderError as error:
        # The text is searchable already; only the embeddings are missing.
        _progress(
            document,
            DocumentStatus.FAILED,
            50,
            error=_("The embedding model failed (%(reason)s); full-text search still works.")
            % {"reason": error},
        )
    except Exception:
        logger.exception("knowledge document %s failed", document.pk)
        _progress(
            document,
            DocumentStatus.FAILED,
            0,
            error=_("An unexpected error stopped the import; the server log has details."),
        )
    else:
        _progress(document, DocumentStatus.READY, 100, indexed_at=timezone.now())
    document.refresh_from_db()
    return document
