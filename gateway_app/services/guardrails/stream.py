"""Output guardrails on a streamed answer: a hold-back window so a match split across chunks is
caught before any of it reaches the client; a block ends the stream with an error event."""

from __future__ import annotations

import orjson

from gateway_app.providers.base import StreamStats
from gateway_app.services.guardrails.engine import (
    CompiledPolicy,
    JudgeCall,
    Match,
    PolicyVerdict,
    Verdict,
    apply_masks,
    combine,
    in_worker,
    offloaded,
)
from gateway_app.providers.sse import sse_data
from gateway_app.services.guardrails.rules import STRENGTH

WINDOW = 128  # characters held back: matches up to this long are always seen whole




class GuardedStream:
    """Wraps an upstream stream (OpenAI SSE bytes) and applies output policies to choice 0's text."""

    def __init__(self, source, policies: list[CompiledPolicy], judge: JudgeCall | None, window: int = WINDOW,
                 max_chars: int | None = None) -> None:
        self._source = source
        self._policies = policies
        self._judge = judge
        self._window = window
        self._max_chars = max_chars  # an answer longer than this is blocked (GUARDRAIL_MAX_SCAN_CHARS)
        self._length = 0
        self._pending = ""
        self._emitted = 0  # characters of choice 0 already sent
        self._text: list[str] = []
        self._envelope: dict = {}
        self._found: dict[tuple[str, str, int, int], Match] = {}
        self.blocked_by: str | None = None
        self.verdict: Verdict | None = None

    @property
    def stats(self) -> StreamStats:
        """The upstream stream's measurements."""
        return self._source.stats

    async def aclose(self) -> None:
        """Release the upstream."""
        await self._source.aclose()

    def _chunk(self, text: str) -> bytes:
        envelope = {**self._envelope, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
        return sse_data(envelope)

    def _error(self, message: str) -> bytes:
        error = {"error": {"message": message, "type": "invalid_request_error", "param": None,
                           "code": "guardrail_violation"}}
        return sse_data(error) + b"data: [DONE]\n\n"

    def _step(self, final: bool) -> tuple[str, bool]:
        """Text safe to send now (masks applied) and whether an enforcing policy blocks."""
        matches = [m for p in self._policies for m in p.pattern_matches(self._pending, "output")]
        enforced = {p.name for p in self._policies if p.mode == "enforce"}
        for match in matches:
            if match.action == "block" and match.policy in enforced:
                self._remember(match)
                self.blocked_by = match.policy
                return "", True
        safe_end = len(self._pending) if final else max(0, len(self._pending) - self._window)
        for match in matches:
            if match.start < safe_end < match.end:
                safe_end = match.start
        inside = [m for m in matches if m.end <= safe_end]
        for match in inside:
            self._remember(match)
        masks = [m for m in inside if m.policy in enforced]
        part = apply_masks(self._pending[:safe_end], masks)
        self._pending = self._pending[safe_end:]
        self._emitted += safe_end
        return part, False

    async def _scan(self, final: bool) -> tuple[str, bool]:
        """_step, in a worker thread when the held-back text is large (one huge chunk)."""
        if offloaded(self._policies, len(self._pending)):
            return await in_worker(self._step, final)
        return self._step(final)

    def _over_limit(self) -> bool:
        """True (and the verdict noted) when the answer grew past the scan limit under an enforcing policy."""
        if self._max_chars is None or self._length <= self._max_chars:
            return False
        enforcing = [p for p in self._policies if p.mode == "enforce"]
        reason = f"the answer is longer than the guardrail scan limit of {self._max_chars} characters"
        for policy in self._policies:
            self._found[(policy.name, "scan_limit", 0, self._length)] = Match(
                policy.name, "scan_limit", "limit", "block", 0, self._length, "", reason)
        if not enforcing:  # shadow policies only: noted, never acted on; stop scanning
            self._max_chars = None
            return False
        self.blocked_by = enforcing[0].name
        return True

    def _remember(self, match: Match) -> None:
        start, end = match.start + self._emitted, match.end + self._emitted
        self._found[(match.policy, match.rule, start, end)] = Match(match.policy, match.rule, match.type, match.action,
                                                                     start, end, match.entity, match.reason)

    async def _judged(self) -> bool:
        """Run the judge rules on the whole answer at the end; True when one blocks."""
        text = "".join(self._text)
        for policy in self._policies:
            for match in await policy.judge(text, "output", self._judge):
                self._found[(match.policy, match.rule, 0, len(text))] = match
                if match.action == "block" and policy.mode == "enforce":
                    self.blocked_by = policy.name
                    return True
        return False

    def _finish_verdict(self) -> None:
        per_policy = []
        for policy in self._policies:
            matches = [m for m in self._found.values() if m.policy == policy.name]
            action = max((m.action for m in matches), key=STRENGTH.__getitem__, default="allow")
            per_policy.append(PolicyVerdict(policy.name, policy.mode, action, matches, 0.0))
        verdict = combine("".join(self._text), per_policy)
        if self.blocked_by:
            verdict.action, verdict.policy = "block", self.blocked_by
        self.verdict = verdict

    async def __aiter__(self):
        try:
            async for raw in self._source:
                out: list[bytes] = []
                for event in raw.split(b"\n\n"):
                    if not event.strip():
                        continue
                    data = event.strip()[5:].strip() if event.strip().startswith(b"data:") else b""
                    if data == b"[DONE]":
                        flushed, _ = await self._scan(final=True)
                        if flushed:
                            out.append(self._chunk(flushed))
                        if await self._judged():
                            out.append(self._error(f"The answer was blocked by guardrail policy '{self.blocked_by}'."))
                            yield b"".join(out)
                            return
                        out.append(b"data: [DONE]\n\n")
                        continue
                    try:
                        parsed = orjson.loads(data) if data else None
                    except orjson.JSONDecodeError:
                        parsed = None
                    if not isinstance(parsed, dict) or not parsed.get("choices"):
                        if isinstance(parsed, dict) and parsed.get("usage") is not None:  # usage-only chunk: flush first
                            flushed, _ = await self._scan(final=True)
                            if flushed:
                                out.append(self._chunk(flushed))
                        out.append(event.strip() + b"\n\n")
                        continue
                    choice = parsed["choices"][0]
                    delta = choice.get("delta") or {}
                    content = delta.get("content")
                    self._envelope = {k: v for k, v in parsed.items() if k not in ("choices", "usage")}
                    if content:
                        self._text.append(content)
                        self._pending += content
                        self._length += len(content)
                        if self._over_limit():
                            out.append(self._error(f"The answer was blocked by guardrail policy '{self.blocked_by}':"
                                                   f" it is longer than {self._max_chars} characters."))
                            yield b"".join(out)
                            return
                        part, blocked = await self._scan(final=False)
                        if blocked:
                            out.append(self._error(f"The answer was blocked by guardrail policy '{self.blocked_by}'."))
                            yield b"".join(out)
                            return
                        rest = {k: v for k, v in delta.items() if k != "content"}
                        if rest or part:
                            parsed["choices"][0] = {**choice, "delta": {**rest, **({"content": part} if part else {})}}
                            out.append(sse_data(parsed))
                        continue
                    if choice.get("finish_reason"):
                        flushed, _ = await self._scan(final=True)
                        if flushed:
                            out.append(self._chunk(flushed))
                    out.append(event.strip() + b"\n\n")
                if out:
                    yield b"".join(out)
        finally:
            self._finish_verdict()
