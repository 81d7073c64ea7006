"""Sections cut into chunks small enough to embed and to quote in a prompt.

A chunk keeps to one heading path. A section that does not fit in one chunk is cut at
paragraph boundaries first, then at sentence ends (English and Chinese punctuation, line
breaks), and a sentence longer than a chunk between words. Consecutive chunks of a section
share a little text, so that a fact that straddles a cut is still found whole in one.
The result depends only on the input: re-indexing compares chunks to keep embeddings."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from .extract import Section

# An FAQ answer stays whole up to this many chunk lengths: it answers one question.
FAQ_MAX_CHUNKS = 4

# A sentence ends after . ! ? and a space; after a Chinese full stop, exclamation or question
# mark, semicolon or ellipsis (no space follows them); closing quotes and brackets go with
# it. A line break ends one too.
_SENTENCE_END = re.compile(
    r"""[.!?]+["'”’)\]]*\s+
      | [。！？；…]+[”’」』）》"']*\s*
      | \n\s*""",
    re.VERBOSE,
)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Chunk:
    ordinal: int  # 0.. in document order
    headings: tuple[str, ...]
    text: str
    question: str = ""


@dataclass(frozen=True)
class _Piece:
    """A sentence, or part of one, with the paragraph it belongs to."""

    paragraph: int
    text: str


def chunk_sections(
    sections: Sequence[Section], *, max_chars: int = 800, overlap_chars: int = 80
) -> list[Chunk]:
    """The sections' chunks in document order. No chunk's text is longer than `max_chars`,
    except an FAQ answer, which is one chunk of up to FAQ_MAX_CHUNKS * max_chars."""
    if not 0 <= overlap_chars < max_chars:
        raise ValueError("overlap_chars must be at least 0 and less than max_chars")
    chunks: list[Chunk] = []
    for section in sections:
        if section.question:
            answer = section.text.strip()
            texts = [answer[: _cut_point(answer, FAQ_MAX_CHUNKS * max_chars)].rstrip()]
        else:
            texts = _split(section.text, max_chars, overlap_chars)
        for text in filter(None, texts):
            chunks.append(Chunk(len(chunks), section.headings, text, section.question))
    return chunks


def _split(text: str, max_chars: int, overlap_chars: int) -> list[str]:
    text = text.strip()
    if len(text) <= max_chars:
        return [text]
    # Room is left in every chunk for the text it repeats from the one before.
    groups = _pack(text, max_chars - overlap_chars)
    texts = [_join(groups[0])]
    for previous, group in pairwise(groups):
        overlap = _overlap(previous, overlap_chars)
        while overlap and len(_join(overlap + group)) > max_chars:
            overlap = overlap[1:]
        texts.append(_join(overlap + group))
    return texts


def _pack(text: str, capacity: int) -> list[list[_Piece]]:
    """Pieces grouped into chunks of at most `capacity` characters. A paragraph that does not
    fit in the current chunk but fits in one alone starts the next; a longer one fills
    chunks sentence by sentence."""
    groups: list[list[_Piece]] = []
    current: list[_Piece] = []
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    for index, paragraph in enumerate(paragraphs):
        pieces = [_Piece(index, piece) for piece in _pieces(paragraph, capacity)]
        if len(_join(current + pieces)) <= capacity:
            current += pieces
            continue
        if current and len(_join(pieces)) <= capacity:
            groups.append(current)
            current = pieces
            continue
        for piece in pieces:
            if current and len(_join([*current, piece])) > capacity:
                groups.append(current)
                current = []
            current.append(piece)
    if current:
        groups.append(current)
    return groups


def _pieces(paragraph: str, capacity: int) -> list[str]:
    """The paragraph's sentences, each with the spaces after it (so that they join back into
    the paragraph); a sentence longer than `capacity` is cut between words."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        sentences.append(paragraph[start : match.end()])
        start = match.end()
    sentences.append(paragraph[start:])
    pieces: list[str] = []
    for sentence in filter(None, sentences):
        start = 0
        while len(sentence) - start > capacity:
            cut = start + _cut_point(sentence[start : start + capacity + 1], capacity)
            pieces.append(sentence[start:cut])
            start = cut
        pieces.append(sentence[start:])
    return pieces


def _cut_point(text: str, limit: int) -> int:
    """Where to cut `text` so that the head has at most `limit` characters: after a space if
    there is one, else anywhere but inside a Latin word (Chinese has no spaces), else at
    `limit` (a token that long, such as a URL, is not a word)."""
    if len(text) <= limit:
        return len(text)
    space = max(text.rfind(" ", 0, limit), text.rfind("\n", 0, limit), text.rfind("\t", 0, limit))
    if space > 0:
        return space + 1
    for cut in range(limit, 0, -1):
        if not (_is_latin(text[cut - 1]) and _is_latin(text[cut])):
            return cut
    return limit


def _is_latin(char: str) -> bool:
    """A character of a word written with spaces between words (not Chinese or Japanese)."""
    return char.isalnum() and char < "\u2e80"


def _overlap(group: list[_Piece], limit: int) -> list[_Piece]:
    """The end of a chunk to repeat at the start of the next: its last whole sentences that
    fit in `limit`, or else the last words of its last sentence."""
    taken: list[_Piece] = []
    for piece in reversed(group):
        if len(_join([piece, *taken])) > limit:
            break
        taken.insert(0, piece)
    if taken or not limit:
        return taken
    last = group[-1].text
    start = len(last) - limit
    while start < len(last) and _is_latin(last[start - 1]) and _is_latin(last[start]):
        start += 1  # begin at a word, not inside one
    return [_Piece(group[-1].paragraph, last[start:])] if last[start:].strip() else []


def _join(pieces: list[_Piece]) -> str:
    """Pieces of one paragraph join as they were; paragraphs are separated by a blank line."""
    text = ""
    for index, piece in enumerate(pieces):
        if index and piece.paragraph != pieces[index - 1].paragraph:
            text = text.rstrip() + "\n\n"
        text += piece.text
    return text.strip()
