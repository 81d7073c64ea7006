"""Ingestion (files and web pages into chunks and embeddings) and hybrid retrieval."""

import pytest
from django.core.files.base import ContentFile

from ai_agent.enums import DocumentStatus
from ai_agent.fake_provider import FakeOpenAI
from ai_agent.knowledge.ingest import document_ingest
from ai_agent.knowledge.retrieval import knowledge_search, terms
from ai_agent.models import KnowledgeDocument
from tests.ai_agent.conftest import MANUAL_MD, add_document
from tests.channels_app.fake_provider import FakeProvider
from tests.factories.ai import AiProfileFactory, KnowledgeBaseFactory, UrlDocumentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def embeddings(settings):
    with FakeOpenAI() as fake:
        settings.AI_EMBEDDING_BASE_URL = fake.url
        settings.AI_EMBEDDING_API_KEY = "sk-embed"
        settings.AI_EMBEDDING_MODEL = "fake-embed"
        yield fake


def embedded_texts(fake) -> list[str]:
    return [
        text
        for request in fake.requests
        if request["path"].endswith("/embeddings")
        for text in request["json"]["input"]
    ]


def test_terms_split_chinese_into_bigrams_and_drop_stopwords():
    # Bigrams across word boundaries ("问运") stay: the index holds the same ones.
    assert terms("请问运费是多少？") == ["问运", "运费", "费是", "是多", "多少"]
    assert terms("How long does SHIPPING take?") == ["long", "shipping", "take"]


def test_a_markdown_file_becomes_chunks_under_its_headings():
    base = KnowledgeBaseFactory()
    document = add_document(base, "manual.md", MANUAL_MD)

    assert (document.status, document.progress, document.error) == (DocumentStatus.READY, 100, "")
    chunks = list(document.chunks.order_by("ordinal"))
    assert [chunk.headings for chunk in chunks] == [["Warranty"], ["保修"]]
    assert document.chunk_count == 2
    assert chunks[1].search_text.startswith("保修\n")
    assert all(chunk.embedding is None for chunk in chunks)  # no embedding model configured


def test_embeddings_are_made_and_kept_for_unchanged_chunks_on_reindex(embeddings):
    base = KnowledgeBaseFactory()
    document = add_document(base, "manual.md", MANUAL_MD)
    assert len(embedded_texts(embeddings)) == 2
    assert set(document.chunks.values_list("embedding_model", flat=True)) == {"fake-embed"}

    changed = MANUAL_MD.replace("two-year warranty", "three-year warranty")
    document.file.save("manual.md", ContentFile(changed.encode()), save=True)
    document_ingest(document)

    texts = embedded_texts(embeddings)
    assert len(texts) == 3  # only the changed English chunk was embedded again
    assert "three-year warranty" in texts[-1]
    assert document.chunks.filter(embedding__isnull=True).count() == 0


def test_an_unchanged_document_is_not_chunked_again(embeddings):
    document = add_document(KnowledgeBaseFactory(), "manual.md", MANUAL_MD)
    ids = set(document.chunks.values_list("pk", flat=True))

    document_ingest(document)

    assert set(document.chunks.values_list("pk", flat=True)) == ids
    assert len(embedded_texts(embeddings)) == 2


def test_a_web_page_is_fetched_and_indexed(settings):
    settings.AI_FETCH_ALLOW_PRIVATE = True  # the page is served on 127.0.0.1
    with FakeProvider() as site:
        site.reply(
            "GET",
            "/help/shipping",
            200,
            b"<html><head><title>Shipping</title><script>alert(1)</script></head><body>"
            b"<nav>Home | Shop</nav><h1>Shipping times</h1><p>Parcels leave our warehouse "
            b"within 48 hours.</p></body></html>",
            headers={"Content-Type": "text/html; charset=utf-8"},
        )
        document = UrlDocumentFactory(url=site.url + "/help/shipping")
        document_ingest(document)

    assert document.status == DocumentStatus.READY
    (chunk,) = document.chunks.all()
    assert chunk.headings == ["Shipping times"]
    assert "within 48 hours" in chunk.text
    assert "alert" not in chunk.text and "Home | Shop" not in chunk.text


def test_a_page_that_cannot_be_fetched_says_why(settings):
    settings.AI_FETCH_ALLOW_PRIVATE = True
    with FakeProvider() as site:
        site.reply("GET", "/gone", 404, {})
        document = UrlDocumentFactory(url=site.url + "/gone")
        document_ingest(document)

    assert document.status == DocumentStatus.FAILED
    assert "404" in document.error


def test_a_private_address_is_refused_unless_allowed(settings):
    settings.AI_FETCH_ALLOW_PRIVATE = False
    document = UrlDocumentFactory(url="http://127.0.0.1:9/admin")
    document_ingest(document)

    assert document.status == DocumentStatus.FAILED
    assert "private" in document.error.lower()


def test_a_damaged_file_fails_with_a_reason_and_keeps_nothing_half_done():
    base = KnowledgeBaseFactory()
    document = KnowledgeDocument(knowledge_base=base, title="broken", filename="broken.pdf")
    document.file.save("broken.pdf", ContentFile(b"%PDF-1.4 not really a pdf"), save=True)

    document_ingest(document)

    assert document.status == DocumentStatus.FAILED
    assert document.error
    assert not document.chunks.exists()


def test_an_embedding_failure_keeps_full_text_search_working(settings):
    with FakeOpenAI(api_key="right-key") as strict:
        settings.AI_EMBEDDING_BASE_URL = strict.url
        settings.AI_EMBEDDING_API_KEY = "wrong-key"
        settings.AI_EMBEDDING_MODEL = "fake-embed"
        document = add_document(KnowledgeBaseFactory(), "manual.md", MANUAL_MD)

        assert document.status == DocumentStatus.FAILED
        assert "full-text search still works" in document.error
        assert document.chunks.count() == 2
        profile = AiProfileFactory(knowledge_bases=[document.knowledge_base])
        result = knowledge_search(profile, "Is dropping the kettle covered?")

    assert not result.semantic
    assert "not covered" in result.hits[0].text


def test_hybrid_retrieval_uses_embeddings_and_only_the_profiles_active_documents(embeddings):
    mine, other = KnowledgeBaseFactory(), KnowledgeBaseFactory()
    kept = add_document(mine, "manual.md", MANUAL_MD)
    add_document(other, "other.md", "# Warranty\n\nOther company: a ten-year warranty.")
    retired = add_document(mine, "old.md", "# Warranty\n\nOld policy: a one-year warranty.")
    retired.is_active = False
    retired.save()
    profile = AiProfileFactory(knowledge_bases=[mine])

    result = knowledge_search(profile, "How long is the warranty on the kettle?")

    assert result.semantic
    assert result.usage.prompt_tokens > 0
    assert {hit.document_id for hit in result.hits} == {kept.pk}
    assert "two-year warranty" in result.hits[0].text
    assert result.hits[0].strength >= 0.5


def test_an_faq_question_matches_its_paraphrase_strongly(profile):
    hits = knowledge_search(profile, "how long will shipping take").hits
    best = max(hits, key=lambda hit: hit.strength)
    assert best.question == "How long does shipping take?"
    assert best.strength >= 0.6

    unrelated = knowledge_search(profile, "Do you sell replacement lids?").hits
    assert all(hit.strength < 0.6 for hit in unrelated)
