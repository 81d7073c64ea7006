"""Hybrid retrieval from a profile's knowledge bases: full-text search (Chinese included:
the same CJK-bigram tokenizer as message search, `sb_search_text`) and, when an embedding
model is configured, nearest embeddings in pgvector. The two candidate lists are fused by
reciprocal rank; each hit also says how strongly its words match the question
(`strength`), which is what the offline engine trusts to answer on its own."""

import re
from dataclasses import dataclass

from django.db import connection
from pgvector.django import CosineDistance

from inbox.search import CJK  # what sb_search_text cuts into bigrams

from ..llm import ProviderError, Usage, embed
from ..models import AiProfile, KnowledgeChunk
from ..providers import embedding_provider

TOKEN = re.compile(rf"[{CJK}]+|[^\W_]+", re.UNICODE)
IS_CJK = re.compile(rf"[{CJK}]")
CANDIDATES = 30
MAX_TERMS = 40
# Reciprocal rank fusion's constant (the usual 60: ranks beyond the first few count less).
RRF_K = 60

# Words that say nothing about the topic: they would make every chunk look relevant.
STOPWORDS = frozenset(
    """
        a an and are as at be but by can could do does for
        from have how i i'm if in is it its me my of on
        or our please so that the their them there this to was we what
        when where which who why will with would you your hi hello thanks thank
        want need know tell about any some get got
        请问 你们 我们 我的 你好 您好 可以 怎么 什么 一下 是不 不是 有没 没有 这个 那个
        吗 呢 的 了 吧 啊 我 你 您 是 有 在 想 要 能 请
        问 个 下 么 和 与 就 也 都 还
    """.split()  # noqa: SIM905 - a word list reads better as text
)


def terms(text: str) -> list[str]:
    """The words of `text` as the index sees them: lower-cased Latin words and CJK bigrams
    (a one-character CJK run stays one character), without stopwords, in order, unique."""
    found: list[str] = []
    for token in TOKEN.findall(text.lower()):
        if IS_CJK.match(token):
            pieces = (
                [token] if len(token) == 1 else [token[i : i + 2] for i in range(len(token) - 1)]
            )
        else:
            pieces = [token] if len(token) > 1 or token.isdigit() else []
        for piece in pieces:
            if piece not in STOPWORDS and piece not in found:
                found.append(piece)
    return found[:MAX_TERMS]


def _overlap(query: list[str], other: set[str]) -> float:
    return sum(term in other for term in query) / len(query) if query else 0.0


def _f1(query: list[str], other: list[str]) -> float:
    if not query or not other:
        return 0.0
    common = len(set(query) & set(other))
    if not common:
        return 0.0
    precision, recall = common / len(other), common / len(query)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    document_id: int
    document_title: str
    headings: tuple[str, ...]
    question: str
    text: str
    score: float  # fused rank score: orders hits
    strength: float  # 0..1: how much of the question the chunk's words answer

    def citation(self) -> dict:
        return {
            "chunk": self.chunk_id,
            "document": self.document_id,
            "title": self.document_title,
            "headings": list(self.headings),
            "strength": round(self.strength, 3),
        }


@dataclass
class Retrieval:
    hits: list[Hit]
    usage: Usage  # the question's embedding
    semantic: bool  # embeddings took part


def _text_candidates(base_ids: list[int], query_terms: list[str]) -> list[int]:
    if not query_terms:
        return []
    tsquery = " || ".join(["plainto_tsquery('simple', %s)"] * len(query_terms))
    # The query terms are already split the way sb_search_text splits CJK text.
    sql = f"""
        WITH q AS (SELECT ({tsquery}) AS query)
        SELECT c.id
        FROM ai_agent_knowledgechunk c
        JOIN ai_agent_knowledgedocument d ON d.id = c.document_id, q
        WHERE d.is_active AND d.knowledge_base_id = ANY(%s)
          AND to_tsvector('simple'::regconfig, sb_search_text(c.search_text)) @@ q.query
        ORDER BY ts_rank_cd(
            to_tsvector('simple'::regconfig, sb_search_text(c.search_text)), q.query
        ) DESC, c.id
        LIMIT %s
    """  # noqa: S608 - only placeholders are formatted in
    with connection.cursor() as cursor:
        cursor.execute(sql, [*query_terms, base_ids, CANDIDATES])
        return [row[0] for row in cursor.fetchall()]


def _vector_candidates(base_ids: list[int], text: str) -> tuple[list[int], Usage]:
    provider = embedding_provider()
    if provider is None:
        return [], Usage()
    (vector,), usage = embed(provider, [text])
    ids = list(
        KnowledgeChunk.objects.filter(
            document__is_active=True,
            document__knowledge_base_id__in=base_ids,
            embedding_model=provider.embedding_model,
        )
        .order_by(CosineDistance("embedding", vector))
        .values_list("pk", flat=True)[:CANDIDATES]
    )
    return ids, usage


def knowledge_search(profile: AiProfile, text: str, *, limit: int = 4) -> Retrieval:
    """The best passages of the profile's knowledge bases for `text`. An embedding failure
    falls back to full-text results (retrieval must not stop an answer)."""
    base_ids = list(profile.knowledge_bases.values_list("pk", flat=True))
    if not base_ids or not text.strip():
        return Retrieval([], Usage(), False)
    query_terms = terms(text)
    lexical = _text_candidates(base_ids, query_terms)
    try:
        semantic, usage = _vector_candidates(base_ids, text)
    except ProviderError:
        semantic, usage = [], Usage()
    fused: dict[int, float] = {}
    for ranking in (lexical, semantic):
        for rank, chunk_id in enumerate(ranking):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1 / (RRF_K + rank + 1)
    chunks = KnowledgeChunk.objects.select_related("document").in_bulk(list(fused))
    hits = []
    for chunk_id, fused_score in fused.items():
        chunk = chunks[chunk_id]
        strength = _overlap(query_terms, set(terms(chunk.search_text)))
        if chunk.question:
            # An FAQ row matches when the two questions are alike, both ways.
            strength = max(strength * 0.8, _f1(query_terms, terms(chunk.question)))
        hits.append(
            Hit(
                chunk_id=chunk.pk,
                document_id=chunk.document_id,
                document_title=str(chunk.document),
                headings=tuple(chunk.headings),
                question=chunk.question,
                text=chunk.text,
                score=fused_score + strength / 100,
                strength=strength,
            )
        )
    hits.sort(key=lambda hit: (-hit.score, hit.chunk_id))
    return Retrieval(hits[:limit], usage, bool(semantic))
