"""Cutting sections into chunks: sizes, boundaries, overlap, Chinese text, FAQ rows."""

import re
from itertools import pairwise

import pytest

from ai_agent.knowledge.chunking import Chunk, chunk_sections
from ai_agent.knowledge.extract import Section

ENGLISH = " ".join(
    f"Order {n} ships from the warehouse in Rotterdam within two working days." for n in range(30)
)
CHINESE = "".join(
    f"第{n}条：订单在付款后两个工作日内从杭州仓库发出，节假日顺延。" for n in range(30)
)
MIXED = "\n\n".join(
    [
        ENGLISH[:500],
        CHINESE[:500],
        "A line without an end\nanother line\n" * 10,
        "Remarks？好的！Yes? " * 20,
    ]
)


def split(text: str, **kwargs) -> list[str]:
    return [c.text for c in chunk_sections([Section(("Guide",), text)], **kwargs)]


def test_a_short_section_is_one_chunk_as_it_is():
    assert chunk_sections([Section(("Returns",), "Free within 30 days.")]) == [
        Chunk(0, ("Returns",), "Free within 30 days.")
    ]


def test_small_paragraphs_of_a_section_are_packed_together():
    assert split("One.\n\nTwo.\n\nThree.") == ["One.\n\nTwo.\n\nThree."]


def test_a_chunk_never_spans_two_heading_paths():
    sections = [
        Section(("Shipping",), "Two days."),
        Section(("Shipping", "Abroad"), "A week."),
        Section(("Shipping",), "Tracked."),
    ]
    chunks = chunk_sections(sections)
    assert [(c.ordinal, c.headings, c.text) for c in chunks] == [
        (0, ("Shipping",), "Two days."),
        (1, ("Shipping", "Abroad"), "A week."),
        (2, ("Shipping",), "Tracked."),
    ]


@pytest.mark.parametrize("text", [ENGLISH, CHINESE, MIXED], ids=["english", "chinese", "mixed"])
@pytest.mark.parametrize(("max_chars", "overlap_chars"), [(800, 80), (200, 40), (120, 0)])
def test_no_chunk_is_longer_than_the_maximum(text, max_chars, overlap_chars):
    chunks = split(text, max_chars=max_chars, overlap_chars=overlap_chars)
    assert len(chunks) > 1
    assert all(0 < len(c) <= max_chars for c in chunks)


@pytest.mark.parametrize("text", [ENGLISH, CHINESE, MIXED], ids=["english", "chinese", "mixed"])
def test_without_overlap_the_chunks_are_the_text_cut_into_pieces(text):
    chunks = split(text, max_chars=150, overlap_chars=0)
    assert re.sub(r"\s", "", "".join(chunks)) == re.sub(r"\s", "", text)


def test_a_long_section_is_cut_between_paragraphs_first():
    paragraphs = [f"Paragraph {n}. " + "Some words here. " * 15 for n in range(6)]
    chunks = split("\n\n".join(p.strip() for p in paragraphs), max_chars=800, overlap_chars=0)
    assert len(chunks) == 3
    for chunk in chunks:
        assert all(p.strip() in paragraphs[int(p.split()[1][:-1])] for p in chunk.split("\n\n"))
        assert chunk.startswith("Paragraph") and chunk.endswith("here.")


def test_chinese_is_cut_at_the_end_of_a_sentence():
    chunks = split(CHINESE, max_chars=100, overlap_chars=0)
    assert len(chunks) > 5
    assert all(c.endswith("。") and c.startswith("第") for c in chunks)


def test_a_sentence_longer_than_a_chunk_is_cut_between_words():
    words = [f"word{n}" for n in range(300)]
    chunks = split(" ".join(words), max_chars=100, overlap_chars=0)
    assert len(chunks) > 10
    assert [w for c in chunks for w in c.split()] == words


def test_a_token_longer_than_a_chunk_is_cut_anyway():
    url = "https://example.com/" + "x" * 500
    assert all(len(c) <= 100 for c in split(url, max_chars=100, overlap_chars=10))
    chunks = split(url, max_chars=100, overlap_chars=0)
    assert max(map(len, chunks)) == 100
    assert "".join(chunks) == url


@pytest.mark.parametrize("text", [ENGLISH, CHINESE], ids=["english", "chinese"])
def test_consecutive_chunks_overlap(text):
    chunks = split(text, max_chars=200, overlap_chars=60)
    for before, after in pairwise(chunks):
        shared = max(n for n in range(61) if before.endswith(after[:n]))
        assert shared >= 10, (before, after)


def test_the_overlap_prefers_whole_sentences():
    sentences = [f"Fact {n} is short." for n in range(40)]
    chunks = split(" ".join(sentences), max_chars=100, overlap_chars=40)
    for before, after in pairwise(chunks):
        first_sentence = after.split(". ")[0] + "."
        assert first_sentence in sentences
        assert before.endswith(first_sentence) or first_sentence + " " in before


def test_a_fact_across_a_boundary_is_whole_in_one_chunk():
    text = " ".join(f"Filler sentence number {n} here." for n in range(12))
    chunks = split(text, max_chars=150, overlap_chars=50)
    for n in range(12):
        assert any(f"Filler sentence number {n} here." in c for c in chunks)


def test_an_faq_row_is_always_one_chunk_with_its_question():
    long_answer = "Yes. " * 300
    chunks = chunk_sections(
        [
            Section(("Payment",), "Cards and transfers.", question="How can I pay?"),
            Section(("Payment",), long_answer, question="Really?"),
        ],
        max_chars=200,
    )
    assert chunks[0] == Chunk(0, ("Payment",), "Cards and transfers.", "How can I pay?")
    assert len(chunks) == 2
    assert chunks[1].question == "Really?"
    assert 700 < len(chunks[1].text) <= 800
    assert chunks[1].text.endswith("Yes.")


def test_chunking_is_deterministic_and_numbered_in_order():
    sections = [Section(("A",), MIXED), Section((), CHINESE), Section(("B",), "x", question="q")]
    first = chunk_sections(sections, max_chars=300, overlap_chars=50)
    assert first == chunk_sections(sections, max_chars=300, overlap_chars=50)
    assert [c.ordinal for c in first] == list(range(len(first)))


def test_empty_sections_give_no_chunks():
    assert chunk_sections([Section(("A",), "  \n\n "), Section(("B",), "")]) == []


@pytest.mark.parametrize(("max_chars", "overlap_chars"), [(100, 100), (0, 0), (100, -1)])
def test_an_overlap_that_leaves_no_room_is_refused(max_chars, overlap_chars):
    with pytest.raises(ValueError):
        chunk_sections([Section((), "text")], max_chars=max_chars, overlap_chars=overlap_chars)


def test_a_latin_word_inside_chinese_is_not_cut():
    text = "请把旧的iPhone连同包装盒一起寄回我们的仓库" * 40  # one sentence, no spaces
    chunks = split(text, max_chars=100, overlap_chars=0)
    assert len(chunks) > 5
    assert sum(c.count("iPhone") for c in chunks) == 40
    assert "".join(chunks) == text


def test_the_overlap_gives_way_when_the_chunk_would_be_too_long():
    ending = "Ends with twenty ch."
    text = f"Some opening words. {ending}\n\n{'y' * 80}"  # the second paragraph fills a chunk
    chunks = split(text, max_chars=100, overlap_chars=len(ending))
    assert chunks == [f"Some opening words. {ending}", "y" * 80]
