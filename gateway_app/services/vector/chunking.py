"""Token estimates and OpenAI-style static chunking (max tokens per chunk, overlap between chunks)."""

from __future__ import annotations

import bisect
import re
from array import array
from dataclasses import dataclass

from gateway_app.core.errors import InvalidInput

DEFAULT_MAX_TOKENS = 800  # OpenAI's "auto" strategy
DEFAULT_OVERLAP = 400
MIN_MAX_TOKENS = 100
MAX_MAX_TOKENS = 4096
MAX_CHUNKS = 100_000  # per file
PAGE_SEPARATOR = "\n\n"

# CJK ideographs, kana and hangul: roughly one token per character in cl100k/o200k.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
# One match per run of a single character class; no nested quantifiers, so matching is linear.
# Groups: 1 CJK character, 2 letters, 3 digits, 4 whitespace, 5 anything else (punctuation, symbols, "_").
_PIECES = re.compile(rf"([{_CJK}])|([^\W\d_{_CJK}]+)|(\d+)|(\s+)|([^\w\s]+|_+)")
_WORDS = re.compile(r"(\S+)(\s*)")  # a word and the whitespace after it


class TooManyChunks(ValueError):
    """The file would produce more than MAX_CHUNKS chunks."""


@dataclass(frozen=True)
class Chunk:
    """A piece of a file's text; page is the 1-based page it starts on (None when the file has no pages)."""

    text: str
    page: int | None
    index: int
    tokens: int


def count_tokens(text: str) -> int:
    """An offline estimate of the cl100k/o200k token count of text (within ~15% for English prose and code)."""
    return sum(_match_tokens(match) for match in _PIECES.finditer(text))


def _word_tokens(word: str) -> int:
    """count_tokens of one whitespace-free word, without the regex for plain ASCII words and numbers."""
    if word.isascii():
        if word.isalpha():
            return 1 + max(0, len(word) - 5) // 4
        if word.isdigit():
            return (len(word) + 2) // 3
    return count_tokens(word)


def _match_tokens(match: re.Match[str]) -> int:
    """Estimated tokens of one character-class run.

    The BPE vocabularies hold most English words up to ~8 letters (with their leading space) as one token and
    split longer or rarer words into ~4-letter pieces; numbers are split into groups of 3 digits; a single space
    joins the next word while newlines and longer whitespace runs are a token; punctuation merges in pairs
    ("()", ").", "->"); non-Latin alphabets take about one token per 3 letters. This gives ~1.3 tokens per word
    of English prose, as cl100k does (checked against a GPT-2-style BPE vocabulary: within ~10% on prose and code).
    The estimate errs high rather than low on unusual text, so a chunk rarely exceeds the model's real limit.
    """
    group = match.lastindex
    size = match.end() - match.start()
    if group == 2:
        if match.group().isascii():
            return 1 + max(0, size - 5) // 4
        return (size + 2) // 3
    if group == 3:
        return (size + 2) // 3
    if group == 4:
        return 0 if size == 1 and match.group() != "\n" else 1
    if group == 5:
        return (size + 1) // 2
    return 1  # CJK


def chunk_pages(pages: list[str], max_tokens: int = DEFAULT_MAX_TOKENS, overlap: int = DEFAULT_OVERLAP,
                *, paged: bool = True) -> list[Chunk]:
    """Chunks of at most max_tokens estimated tokens, consecutive ones sharing up to overlap tokens.

    Chunks end at word boundaries (inside a word only when it alone exceeds max_tokens) and may run across
    pages; each records the 1-based page it starts on, or None when paged is False. Blank pages yield nothing.
    Linear in the text: tokens are counted once into prefix sums over the cut points, then two pointers slide.
    """
    if max_tokens < 1 or not 0 <= overlap < max_tokens:
        raise ValueError("chunking needs max_tokens >= 1 and 0 <= overlap < max_tokens")
    text, page_starts = _join_pages(pages)
    cuts = _Cuts.of(text, max_tokens)
    chunks: list[Chunk] = []
    start, end, last = 0, 0, len(cuts.offsets) - 1
    while start < last:
        end = max(end, start)
        while end < last and cuts.tokens(start, end + 1) <= max_tokens and not (cuts.barrier[end] and end > start):
            end += 1
        if len(chunks) >= MAX_CHUNKS:
            raise TooManyChunks(f"the file would produce more than {MAX_CHUNKS:,} chunks")
        page = bisect.bisect_right(page_starts, cuts.offsets[start]) if paged else None
        chunks.append(Chunk(text=text[cuts.offsets[start]:cuts.offsets[end]].rstrip(), page=page,
                            index=len(chunks), tokens=cuts.tokens(start, end)))
        if end == last:
            break
        start = _next_start(cuts, start, end, max_tokens, overlap)
    return chunks


def _join_pages(pages: list[str]) -> tuple[str, list[int]]:
    """The non-blank pages stripped and joined, with the offset where each page (blank or not) starts."""
    parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for page in pages:
        stripped = page.strip()
        if stripped and parts:
            parts.append(PAGE_SEPARATOR)
            offset += len(PAGE_SEPARATOR)
        starts.append(offset)
        if stripped:
            parts.append(stripped)
            offset += len(stripped)
    return "".join(parts), starts


@dataclass
class _Cuts:
    """Offsets where a chunk may start or end, with prefix sums of the estimated tokens before each.

    A cut is the start of every word (a whitespace-free run) and the end of the text. A word over max_tokens
    also gets cuts between its pieces (runs packed up to max_tokens, overlong runs sliced); those are barriers
    that a chunk may start or end at but not span, since a sliced run rejoined would count differently.
    """

    offsets: array
    totals: array  # tokens of text[:offset], trailing whitespace included
    trailing: bytearray  # tokens of the whitespace just before the offset (stripped from a chunk ending there)
    barrier: bytearray

    @classmethod
    def of(cls, text: str, max_tokens: int) -> _Cuts:
        """The cuts of a text whose pages are already stripped (so it starts and ends with a word)."""
        cuts = cls(array("q", [0]), array("q", [0]), bytearray(1), bytearray(1))
        offsets, totals, trailings, barriers = cuts.offsets, cuts.totals, cuts.trailing, cuts.barrier
        # Word by word, each distinct word counted once: counting every character run was a quarter
        # of ingestion's CPU in the gateway (split words append their own cuts, so totals are re-read).
        counted: dict[str, int] = {}
        total = 0
        for match in _WORDS.finditer(text):
            word, space = match.group(1, 2)
            tokens = counted.get(word)
            if tokens is None:
                tokens = counted[word] = _word_tokens(word)
            if tokens > max_tokens:
                tokens = cuts.split_word(text, match.start(1), match.end(1), max_tokens)
                total = totals[-1]
            # A single space joins the next word; a newline or a longer run is a token.
            trailing = (0 if space == " " or (len(space) == 1 and space != "\n") else 1) if space else 0
            total += tokens + trailing
            offsets.append(match.end())
            totals.append(total)
            trailings.append(trailing)
            barriers.append(0)
        return cuts

    def add(self, offset: int, tokens: int, *, trailing: int = 0, barrier: bool = False) -> None:
        """A cut after tokens more tokens."""
        self.offsets.append(offset)
        self.totals.append(self.totals[-1] + tokens)
        self.trailing.append(trailing)
        self.barrier.append(barrier)

    def tokens(self, start: int, end: int) -> int:
        """Estimated tokens of the text between two cuts, trailing whitespace stripped."""
        return self.totals[end] - self.trailing[end] - self.totals[start]

    def split_word(self, text: str, start: int, end: int, max_tokens: int) -> int:
        """Barrier cuts inside an overlong word; returns the tokens of its last piece."""
        piece = 0
        for match in _PIECES.finditer(text, start, end):
            tokens = _match_tokens(match)
            if piece and piece + tokens > max_tokens:
                self.add(match.start(), piece, barrier=True)
                piece = 0
            if tokens <= max_tokens:
                piece += tokens
                continue
            # Slices short enough for any count rule: letters and digits take >= 3 chars a token, symbols 2.
            step = (2 if match.lastindex == 5 else 3) * max_tokens
            position = match.start()
            while match.end() - position > step:
                self.add(position + step, count_tokens(text[position:position + step]), barrier=True)
                position += step
            piece = count_tokens(text[position:match.end()])
        return piece


def _next_start(cuts: _Cuts, start: int, end: int, max_tokens: int, overlap: int) -> int:
    """Where the chunk after [start, end) starts: as early as overlap allows, late enough to gain a word."""
    if cuts.barrier[end]:
        return end
    following = start + 1
    while following < end and (cuts.tokens(following, end) > overlap
                               or cuts.tokens(following, end + 1) > max_tokens):
        following += 1
    return following


def chunking_params(strategy: dict | None) -> tuple[int, int]:
    """(max_tokens, overlap) for OpenAI's chunking_strategy; invalid input names the offending field."""
    if strategy is None:
        return DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP
    if not isinstance(strategy, dict):
        raise _invalid("chunking_strategy must be an object")
    kind = strategy.get("type")
    if kind == "auto":
        if set(strategy) - {"type"}:
            raise _invalid("chunking_strategy of type auto takes no other fields")
        return DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP
    if kind != "static":
        raise _invalid("chunking_strategy.type must be 'auto' or 'static'")
    if set(strategy) - {"type", "static"}:
        raise _invalid(f"unknown field in chunking_strategy: {sorted(set(strategy) - {'type', 'static'})[0]}")
    static = strategy.get("static")
    if not isinstance(static, dict):
        raise _invalid("chunking_strategy.static must be an object with max_chunk_size_tokens and chunk_overlap_tokens")
    unknown = set(static) - {"max_chunk_size_tokens", "chunk_overlap_tokens"}
    if unknown:
        raise _invalid(f"unknown field in chunking_strategy.static: {sorted(unknown)[0]}")
    max_tokens = _integer(static, "max_chunk_size_tokens")
    overlap = _integer(static, "chunk_overlap_tokens")
    if not MIN_MAX_TOKENS <= max_tokens <= MAX_MAX_TOKENS:
        raise _invalid(f"chunking_strategy.static.max_chunk_size_tokens must be between {MIN_MAX_TOKENS} "
                       f"and {MAX_MAX_TOKENS}")
    if overlap < 0:
        raise _invalid("chunking_strategy.static.chunk_overlap_tokens must not be negative")
    if overlap > max_tokens // 2:
        raise _invalid(f"chunking_strategy.static.chunk_overlap_tokens must not exceed half of "
                       f"max_chunk_size_tokens ({max_tokens // 2})")
    return max_tokens, overlap


def strategy_object(max_tokens: int, overlap: int) -> dict:
    """OpenAI's chunking_strategy as reported on a vector store file (auto is reported as static 800/400)."""
    return {"type": "static", "static": {"max_chunk_size_tokens": max_tokens, "chunk_overlap_tokens": overlap}}


def _integer(static: dict, field: str) -> int:
    """A required integer field of chunking_strategy.static (bools are not integers here)."""
    value = static.get(field)
    if value is None:
        raise _invalid(f"chunking_strategy.static.{field} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"chunking_strategy.static.{field} must be an integer")
    return value


def _invalid(message: str) -> InvalidInput:
    """An InvalidInput on the chunking_strategy parameter."""
    return InvalidInput(message, param="chunking_strategy")
