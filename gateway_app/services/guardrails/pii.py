"""Built-in PII detectors: RE2 patterns (each look-around rewritten as a consumed neighbour or the
text's edge, the span being a group) and the checksums that confirm cards and IBANs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import re2

from gateway_app.services.guardrails.patterns import WORD, Subject, compile_pattern, find

ALL_ENTITIES: tuple[str, ...] = ("email", "phone", "credit_card", "iban", "ip", "secret")
ORDER = ("secret", "email", "iban", "credit_card", "ip", "phone")  # earlier kinds win overlaps
D = r"\p{Nd}"  # Python's Unicode \d
_OCTET = rf"(?:25[0-5]|2[0-4]{D}|1{D}{D}|[1-9]?{D})"


@dataclass(frozen=True, slots=True)
class Span:
    """A detected span."""

    start: int
    end: int
    entity: str


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # Luhn: a doubled digit, its digits summed
_LETTER_VALUES = {ord(c): str(ord(c) - 55) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}  # IBAN: A=10 .. Z=35


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a card number (any decimal digits: int() reads them all)."""
    kept = sum(map(int, digits[-1::-2]))
    doubled = sum(map(_DOUBLED.__getitem__, map(int, digits[-2::-2])))
    return (kept + doubled) % 10 == 0


def iban_ok(text: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN."""
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    number = (compact[4:] + compact[:4]).translate(_LETTER_VALUES)
    return number.isdecimal() and int(number) % 97 == 1


def _card_ok(text: str) -> bool:
    digits = text.replace(" ", "").replace("-", "")  # the pattern allows only these between digits
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _phone_ok(text: str) -> bool:
    separators = sum(map(text.count, "+() .-"))  # the pattern allows only these besides digits
    return 7 <= len(text) - separators <= 15


@dataclass(frozen=True, slots=True)
class Detector:
    """One RE2 pattern of an entity, the neighbours it consumes, and the check its span must pass."""

    entity: str
    regex: re2._Regexp
    lead: bool = False  # the pattern consumes the character before the span
    trail: bool = False  # ... and the one after it
    check: Callable[[str], bool] | None = None


def _detector(entity: str, pattern: str, trail: bool = True, check: Callable[[str], bool] | None = None,
              ) -> Detector:
    return Detector(entity, compile_pattern(pattern, max_program=1 << 20), True, trail, check)


# (?<![x])P(?![y]) becomes [^x]P[^y], run on the text between two spaces (see patterns.find);
# \b before or after a word character likewise.
DETECTORS: dict[str, tuple[Detector, ...]] = {
    "secret": (_detector("secret", rf"[^{WORD}](?:"
                         r"(?:sk|pk|rk)-[A-Za-z0-9_-]{16,}"  # OpenAI-style and similar
                         r"|sk-ant-[A-Za-z0-9_-]{16,}"
                         r"|gh-[A-Za-z0-9_-]{30,}"  # Gatehouse API tokens
                         r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub
                         r"|xox[abpr]-[A-Za-z0-9-]{10,}"  # Slack
                         r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})", trail=False),  # JWT
               _detector("secret", rf"[^{WORD}]AKIA[0-9A-Z]{{16}}[^{WORD}]")),  # AWS access key id
    "email": (Detector("email", compile_pattern(
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),),
    "iban": (_detector("iban", rf"[^{WORD}][A-Z]{{2}}{D}{{2}}(?: ?[A-Z0-9]){{11,30}}[^{WORD}]", check=iban_ok),),
    "credit_card": (_detector("credit_card", rf"[^{D}-](?:{D}[ -]?){{12,18}}{D}[^{D}-]", check=_card_ok),),
    "ip": (_detector("ip", rf"[^{D}.](?:{_OCTET}\.){{3}}{_OCTET}[^{D}.]"),
           _detector("ip", rf"[^:{WORD}](?:[0-9a-fA-F]{{1,4}}:){{2,7}}[0-9a-fA-F]{{1,4}}[^:{WORD}]")),
    "phone": (_detector("phone", rf"[^{WORD}+](?:\+{D}{{1,3}}[ .-]?)?(?:\({D}{{1,4}}\)[ .-]?)?"
                                 rf"{D}{{2,4}}(?:[ .-]?{D}{{2,4}}){{2,4}}[^{WORD}]", check=_phone_ok),),
}


def _fresh(detector: Detector, subject: Subject, taken: list[tuple[int, int, str]]):
    """Spans of one detector that pass its check and overlap nothing taken (both run left to right)."""
    index = 0
    for start, end in find(detector.regex, subject, detector.lead, detector.trail):
        while index < len(taken) and taken[index][1] <= start:
            index += 1
        if index < len(taken) and taken[index][0] < end:
            continue
        if detector.check is None or detector.check(subject.piece(start, end)):
            yield start, end, detector.entity


def scan_pii(subject: Subject, entities: list[str] | tuple[str, ...], limit: int) -> tuple[list[Span], bool]:
    """Spans (character offsets) of the requested kinds, at most `limit`; True when more were left unread."""
    taken: list[tuple[int, int, str]] = []  # byte spans, sorted and disjoint
    wanted = set(entities)
    for entity in ORDER:
        if entity not in wanted:
            continue
        for detector in DETECTORS[entity]:
            found = []
            for span in _fresh(detector, subject, taken):
                if len(taken) + len(found) == limit:
                    taken = sorted(taken + found)
                    return _in_chars(subject, taken), True
                found.append(span)
            taken = sorted(taken + found)  # two sorted runs: timsort merges them in linear time
    return _in_chars(subject, taken), False


def _in_chars(subject: Subject, spans: list[tuple[int, int, str]]) -> list[Span]:
    offsets = subject.chars(o for start, end, _ in spans for o in (start, end))
    return [Span(offsets[2 * i], offsets[2 * i + 1], entity) for i, (_, _, entity) in enumerate(spans)]


def detect_pii(text: str | Subject, entities: list[str]) -> list[Span]:
    """Spans of the requested PII kinds; validated kinds (cards, IBANs) must pass their checksum."""
    subject = text if isinstance(text, Subject) else Subject(text)
    return scan_pii(subject, entities, limit=1 << 62)[0]
