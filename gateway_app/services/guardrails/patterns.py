"""RE2 for every guardrail pattern: compile options, refusals in words, and match iteration in bounded work.

Why not just `finditer`: RE2 makes one search linear, but iterating all matches can still be
quadratic (`a.*b|a` on 'a'*N: every search scans to the end of the text to rule out the
longer alternative). So the first search runs over the whole text (exact: a block rule never
misses), and the following ones run in windows of WINDOW bytes that overlap by OVERLAP bytes;
a match touching a window's end is searched again over the rest of the text. Work per rule is
then O(text + matches * WINDOW). Texts are searched as UTF-8 bytes encoded once: the wrapper's
str API re-encodes the whole text on every `search(text, pos)` call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import re2

MAX_MEM = 8 << 20  # RE2's bound per pattern (program + DFA cache); compiling past it is refused
MAX_REGEX_PROGRAM = 5_000  # instructions: when RE2's DFA gives up, its NFA costs up to this much per byte
MAX_KEYWORD_PROGRAM = 30_000  # literal alternations stay in the DFA; ~1000 keywords of 20 characters
WINDOW = 16 * 1024  # bytes per search after the first match
OVERLAP = WINDOW // 2  # a match up to this long that crosses a window's end is found in the next one
WORD = r"\pL\pN_"  # Python's Unicode \w; RE2's \w and \b are ASCII-only

_UNANCHORED = re2._Anchor.UNANCHORED
_NO_SPAN = (-1, -1)

LOOKAROUND = "look-ahead/look-behind is not supported: patterns run in linear time (RE2)"
BACKREFERENCE = "backreferences (\\1, \\k<name>, (?P=name)) are not supported: patterns run in linear time (RE2)"
ATOMIC = "atomic groups and possessive quantifiers are not supported: RE2 never backtracks, so plain ones do the same"
_REASONS = (
    ("invalid perl operator: (?=", LOOKAROUND), ("invalid perl operator: (?!", LOOKAROUND),
    ("invalid perl operator: (?<=", LOOKAROUND), ("invalid perl operator: (?<!", LOOKAROUND),
    ("invalid perl operator: (?P", BACKREFERENCE), ("invalid escape sequence: \\k", BACKREFERENCE),
    ("invalid escape sequence: \\g", BACKREFERENCE),
    *((f"invalid escape sequence: \\{d}", BACKREFERENCE) for d in "123456789"),
    ("invalid perl operator: (?>", ATOMIC), ("bad repetition operator: ++", ATOMIC),
    ("bad repetition operator: *+", ATOMIC), ("bad repetition operator: ?+", ATOMIC),
    ("invalid escape sequence: \\Z", "\\Z is not supported: use \\z for the end of the text"),
    ("invalid perl operator: (?#", "(?#...) comments are not supported"),
    ("pattern too large", f"the pattern is too large: it compiles past RE2's {MAX_MEM >> 20} MiB memory bound; "
                          "shorten it or split it across rules"),
)
_EMPTY_CONTEXTS = ("", "a", " ", "\n")  # every kind of neighbour an empty match's assertions can test


class PatternError(ValueError):
    """A pattern RE2 refuses, explained for an operator."""


def options(*, ignore_case: bool = False) -> re2.Options:
    """The options every guardrail pattern is compiled with (save-time checks use the same)."""
    opts = re2.Options()
    opts.max_mem = MAX_MEM
    opts.log_errors = False  # RE2 would print refusals to stderr
    opts.case_sensitive = not ignore_case
    opts.never_capture = True  # spans only: groups would make RE2 run its slower submatch engines per match
    return opts


def _reason(error: re2.error) -> str:
    raw = error.args[0] if error.args else ""
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    for prefix, reason in _REASONS:
        if message.startswith(prefix):
            return reason
    if message.startswith("invalid perl operator: (?"):
        return f"{message}: RE2 accepts the inline flags i, m, s and U, and (?P<name>...) groups"
    return f"not a valid regular expression: {message}"


def _any_byte_escape(pattern: str) -> bool:
    """True when the pattern uses \\C (one byte): it can split a character in two."""
    index = pattern.find("\\")
    while index != -1:
        following = pattern[index + 1:index + 2]
        if following == "C":
            return True
        if following == "Q":  # \Q...\E is literal text
            end = pattern.find("\\E", index + 2)
            if end == -1:
                return False
            index = end
        index = pattern.find("\\", index + 2)
    return False


def matches_empty(regex: re2._Regexp) -> bool:
    """True when the pattern can match an empty string somewhere (it would then match everywhere)."""
    for before in _EMPTY_CONTEXTS:
        for after in _EMPTY_CONTEXTS:
            probe = (before + after).encode()
            if regex.search(probe, len(before), len(before)) is not None:
                return True
    return False


def compile_pattern(pattern: str, *, ignore_case: bool = False, max_program: int = MAX_REGEX_PROGRAM,
                    allow_empty: bool = False) -> re2._Regexp:
    """Compile with the guardrail options, or raise PatternError saying why not."""
    if _any_byte_escape(pattern):
        raise PatternError("\\C (any byte) is not supported: it can split a character; use . instead")
    try:
        regex = re2.compile(pattern, options(ignore_case=ignore_case))
    except re2.error as exc:
        raise PatternError(_reason(exc)) from None
    if regex.programsize > max_program:
        raise PatternError(f"the pattern is too large: it compiles to {regex.programsize} RE2 instructions "
                           f"(limit {max_program}); shorten counted repetitions such as {{500}} or split it")
    if not allow_empty and matches_empty(regex):
        raise PatternError("the pattern can match an empty string, so it would match everywhere: "
                           "make it require at least one character")
    return regex


class Subject:
    """A text encoded to UTF-8 once for every pattern run on it, with byte -> character offsets."""

    __slots__ = ("_padded", "ascii", "data", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.ascii = text.isascii()
        # "replace" turns a lone surrogate (valid in a str, not in UTF-8) into one '?' byte: offsets stay aligned.
        self.data = text.encode("ascii") if self.ascii else text.encode("utf-8", "replace")
        self._padded: bytes | None = None

    @property
    def padded(self) -> bytes:
        """The bytes between two spaces: the neighbours a consumed look-around needs at the text's edges."""
        if self._padded is None:
            self._padded = b" " + self.data + b" "
        return self._padded

    def __len__(self) -> int:
        return len(self.text)

    def chars(self, offsets: Iterable[int]) -> list[int]:
        """Character offsets of byte offsets; linear when the offsets do not decrease."""
        if self.ascii:
            return list(offsets)
        out, last_byte, last_char, data = [], 0, 0, self.data
        for offset in offsets:
            if offset < last_byte:
                last_byte = last_char = 0
            last_char += len(data[last_byte:offset].decode("utf-8", "replace"))
            last_byte = offset
            out.append(last_char)
        return out

    def piece(self, start: int, end: int) -> str:
        """The text of a byte span."""
        return self.text[start:end] if self.ascii else self.data[start:end].decode("utf-8", "replace")


def _start_of_char(data: bytes, index: int) -> int:
    while 0 < index < len(data) and data[index] & 0xC0 == 0x80:
        index -= 1
    return index


def _next_char(data: bytes, index: int) -> int:
    index += 1
    while index < len(data) and data[index] & 0xC0 == 0x80:
        index += 1
    return index


def _searcher(regex: re2._Regexp):
    """(data, pos, endpos) -> the match's byte span or None; the wrapper's own Match costs a quarter of search()."""
    native = getattr(regex, "_regexp", None)
    if native is not None and hasattr(native, "Match"):
        def search(data: bytes, pos: int, endpos: int):
            span = native.Match(_UNANCHORED, data, pos, endpos)[0]
            return None if span == _NO_SPAN else span
        return search

    def fallback(data: bytes, pos: int, endpos: int):
        found = regex.search(data, pos, endpos)
        return None if found is None else found.span()
    return fallback


def find(regex: re2._Regexp, subject: Subject, lead: bool = False, trail: bool = False,
         ) -> Iterator[tuple[int, int]]:
    """Byte spans of a pattern in a text; see iter_spans. Patterns that consume a neighbour run on the
    padded bytes, so `[^x]P(?:[^y])` stands for `(?<![x])P(?![y])` at the text's edges too."""
    if not (lead or trail):
        yield from iter_spans(regex, subject.data, ascii=subject.ascii)
        return
    for start, end in iter_spans(regex, subject.padded, lead, trail, ascii=subject.ascii):
        yield start - 1, end - 1


def iter_spans(regex: re2._Regexp, data: bytes, lead: bool = False, trail: bool = False, *, ascii: bool = False,
               ) -> Iterator[tuple[int, int]]:
    """Non-empty byte spans of a pattern, leftmost first, in bounded work.

    `lead` / `trail`: the pattern consumes exactly one character before / after the span (a
    look-around rewritten for RE2), which the span leaves out; a search then starts one character
    before the earliest place the next span may start. Patterns have no capture groups: asking
    RE2 for groups runs its slower submatch engines on every match.
    """
    search, size = _searcher(regex), len(data)
    pos, exact = 0, True
    while pos <= size:
        if lead and pos:
            start = pos - 1 if ascii else _start_of_char(data, pos - 1)
        else:
            start = pos
        end = size if exact or size - start <= WINDOW else _start_of_char(data, start + WINDOW)
        span = search(data, start, end)
        if span is None:
            if end == size:
                return
            pos = _start_of_char(data, end - OVERLAP)
            continue
        if end < size and span[1] == end:  # it may go on past the window
            span = search(data, start, size) or span
        exact = False
        first, stop = span
        if ascii:  # one byte per character: no UTF-8 boundaries to look for
            first, stop = first + lead, stop - trail
        else:
            first = _next_char(data, first) if lead else first
            stop = _start_of_char(data, stop - 1) if trail else stop
        if stop > first >= pos:
            yield first, stop
            pos = stop
        else:  # an empty match (save-time checks refuse such patterns; stored ones may remain): move on
            pos = _next_char(data, max(stop, pos))
