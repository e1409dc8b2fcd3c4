"""Guardrails, prompts and traces around one inference call (the parts that are off by default).

A request without guardrail policies, prompt reference or x-session-id pays one tuple check per
feature; everything here runs only when the tenant configured it or the client asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from gateway_app.core.errors import InvalidInput
from gateway_app.db.records import GuardrailVerdictRecord, TraceEvent, precise_now
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.guardrails.engine import (
    CompiledPolicy,
    JudgeCall,
    ScanLimitExceeded,
    Verdict,
    evaluate,
    limit_verdict,
)
from gateway_app.services.guardrails.rules import STRENGTH
from gateway_app.services.guardrails.service import GuardrailCatalog, VerdictRecorder
from gateway_app.services.guardrails.stream import GuardedStream
from gateway_app.services.prompts import PromptRenderer, RenderRequest
from gateway_app.services.tracing import LlmTrace, TraceRecorder


class GuardrailViolation(InvalidInput):
    """A guardrail policy blocked the request or the answer."""

    code = "guardrail_violation"

    def __init__(self, message: str, policy: str) -> None:
        super().__init__(message)
        self.policy = policy


@dataclass(slots=True)
class CallContext:
    """What one request carries through the pipeline besides its payload."""

    identity: ClientIdentity
    request_id: str
    trace: LlmTrace | None = None
    prompt: str = ""  # "name@version"
    guardrail: str = ""  # "<action>:<policy>" of the strongest verdict
    verdicts: list[dict] = field(default_factory=list)
    rag_module: str = ""  # the RAG module the call is made for (usage rows name it)
    memory_store: str = ""  # the memory store the call is made for (usage rows name it)

    def note(self, verdict: Verdict) -> None:
        """Keep the strongest verdict for the usage record and the trace."""
        for policy in verdict.policies:
            current = self.guardrail.split(":", 1)[0] if self.guardrail else "allow"
            if not self.guardrail or STRENGTH[policy.action] > STRENGTH.get(current, 0):
                self.guardrail = f"{policy.action}:{policy.policy}"
            if policy.matches:
                self.verdicts.append({"policy": policy.policy, "mode": policy.mode, "action": policy.action,
                                      "rules": sorted({m.rule for m in policy.matches})})


def _texts(message: dict) -> list[tuple[str | int | None, str]]:
    content = message.get("content")
    if isinstance(content, str):
        return [(None, content)]
    if isinstance(content, list):
        return [(i, p["text"]) for i, p in enumerate(content)
                if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)]
    return []


def _input_length(payload: dict, field_name: str) -> int:
    """Characters of request text the input policies would scan."""
    if field_name == "input":
        value = payload.get("input")
        return sum(len(i) for i in ([value] if isinstance(value, str) else value or []) if isinstance(i, str))
    return sum(len(text) for m in payload.get("messages") or [] if isinstance(m, dict) for _, text in _texts(m))


class Guarding:
    """Applies a request's guardrail policies, prompt reference and trace recording."""

    def __init__(self, catalog: GuardrailCatalog, recorder: VerdictRecorder, traces: TraceRecorder,
                 prompts: PromptRenderer) -> None:
        self._catalog = catalog
        self._recorder = recorder
        self._traces = traces
        self._prompts = prompts
        self.max_scan_chars = catalog.max_scan_chars

    @property
    def catalog(self) -> GuardrailCatalog:
        """The compiled-policy cache (its load counters show cold starts)."""
        return self._catalog

    async def policies(self, identity: ClientIdentity, model_guardrails: tuple[str, ...]) -> list[CompiledPolicy]:
        """Policies of the token's project, the token and the model (in that order, once each)."""
        return await self.named(identity.tenant_slug, identity.guardrails + model_guardrails)

    async def named(self, tenant: str, names: tuple[str, ...]) -> list[CompiledPolicy]:
        """Enabled policies of a tenant by name, each once, in the order given."""
        if not names:
            return []
        return await self._catalog.policies(tenant, list(dict.fromkeys(names)))

    async def apply_prompt(self, ctx: CallContext, payload: dict) -> dict:
        """Render a `prompt` reference into the messages (client messages follow the rendered ones)."""
        reference = payload.get("prompt")
        if reference is None:
            return payload
        if not isinstance(reference, dict) or not isinstance(reference.get("name"), str):
            raise InvalidInput("'prompt' must be an object with a 'name'", param="prompt")
        try:
            request = RenderRequest(variables=reference.get("variables") or {}, version=reference.get("version"),
                                    label=reference.get("label"))
        except ValueError as exc:
            raise InvalidInput(f"prompt: {exc}", param="prompt") from None
        rendered = await self._prompts.render(ctx.identity.tenant_slug, reference["name"], request)
        ctx.prompt = f"{rendered.name}@{rendered.version}"
        out = {k: v for k, v in payload.items() if k != "prompt"}
        out["messages"] = rendered.messages + list(payload.get("messages") or [])
        if not out.get("model") and rendered.model:
            out["model"] = rendered.model
        for name, value in rendered.params.items():
            out.setdefault(name, value)
        return out

    def _record(self, ctx: CallContext, direction: str, verdict: Verdict, model: str) -> None:
        ctx.note(verdict)
        for policy in verdict.policies:
            if not policy.matches:
                continue
            self._recorder.record(ctx.identity.tenant_slug, GuardrailVerdictRecord(
                policy=policy.policy, direction=direction, action=policy.action, mode=policy.mode,
                rules=sorted({m.rule for m in policy.matches}), matches=len(policy.matches),
                latency_ms=round(policy.latency_ms, 3), request_id=ctx.request_id, token_id=ctx.identity.token_id,
                model=model))
        if ctx.trace is not None and verdict.matches:
            self._traces.record(ctx.identity.tenant_slug, TraceEvent(
                id=f"{ctx.trace.event_id}-{direction}-guardrail", session_id=ctx.trace.session_id, type="guardrail",
                name=f"{direction} guardrails", parent_id=ctx.trace.event_id,
                status="error" if verdict.blocked else "ok", input={"direction": direction},
                output={"action": verdict.action, "policy": verdict.policy,
                        "matches": [m.as_dict() for m in verdict.matches]},
                metadata={"latency_ms": round(verdict.latency_ms, 3)}, ended_at=precise_now()))

    @staticmethod
    def _blocked(verdict: Verdict, what: str) -> GuardrailViolation:
        rules = sorted({m.rule for m in verdict.matches if m.policy == verdict.policy and m.action == "block"})
        return GuardrailViolation(f"{what} was blocked by guardrail policy '{verdict.policy}'"
                                  f" ({', '.join(rules) or 'the policy'})", verdict.policy or "")

    async def check_input(self, ctx: CallContext, policies: list[CompiledPolicy], payload: dict, model: str,
                          judge: JudgeCall | None, field_name: str = "messages") -> dict:
        """Check (and mask) the request's text; raise GuardrailViolation on a block."""
        if not any(r.applies_to("input") for p in policies for r in p.rules):
            return payload
        length = _input_length(payload, field_name)
        if length > self.max_scan_chars:  # refused unread rather than passed unscanned
            verdict = limit_verdict(policies, "", "input", length, self.max_scan_chars)
            self._record(ctx, "input", verdict, model)
            if verdict.blocked:
                raise ScanLimitExceeded(f"the request has {length} characters of text; guardrail policy "
                                        f"'{verdict.policy}' scans at most {self.max_scan_chars}",
                                        param=field_name)
            return payload  # shadow policies only: they never act
        if field_name == "input":
            value = payload.get("input")
            items = [value] if isinstance(value, str) else list(value or [])
            masked = []
            for item in items:
                if not isinstance(item, str):
                    masked.append(item)
                    continue
                verdict = await evaluate(policies, item, "input", judge)
                self._record(ctx, "input", verdict, model)
                if verdict.blocked:
                    raise self._blocked(verdict, "The request")
                masked.append(verdict.text)
            return {**payload, "input": masked[0] if isinstance(value, str) else masked}
        messages = []
        for message in payload.get("messages") or []:
            if not isinstance(message, dict):
                messages.append(message)
                continue
            message = dict(message)
            for part, text in _texts(message):
                verdict = await evaluate(policies, text, "input", judge)
                self._record(ctx, "input", verdict, model)
                if verdict.blocked:
                    raise self._blocked(verdict, "The request")
                if verdict.text != text:
                    if part is None:
                        message["content"] = verdict.text
                    else:
                        parts = list(message["content"])
                        parts[part] = {**parts[part], "text": verdict.text}  # type: ignore[index]
                        message["content"] = parts
            messages.append(message)
        return {**payload, "messages": messages}

    async def check_output(self, ctx: CallContext, policies: list[CompiledPolicy], body: bytes, model: str,
                           judge: JudgeCall | None) -> bytes:
        """Check (and mask) a complete answer; raise GuardrailViolation on a block."""
        if not any(r.applies_to("output") for p in policies for r in p.rules):
            return body
        answer = orjson.loads(body)
        changed = False
        length = sum(len(c["message"]["content"]) for c in answer.get("choices") or []
                     if isinstance(c.get("message"), dict) and isinstance(c["message"].get("content"), str))
        if length > self.max_scan_chars:  # blocked like a violation: an answer nobody checked never passes
            verdict = limit_verdict(policies, "", "output", length, self.max_scan_chars)
            self._record(ctx, "output", verdict, model)
            if verdict.blocked:
                raise GuardrailViolation(f"The answer was blocked by guardrail policy '{verdict.policy}': it has "
                                         f"{length} characters, more than the scan limit of {self.max_scan_chars}",
                                         verdict.policy or "")
            return body
        for choice in answer.get("choices") or []:
            message = choice.get("message") or {}
            text = message.get("content")
            if not isinstance(text, str) or not text:
                continue
            verdict = await evaluate(policies, text, "output", judge)
            self._record(ctx, "output", verdict, model)
            if verdict.blocked:
                raise self._blocked(verdict, "The answer")
            if verdict.text != text:
                message["content"] = verdict.text
                changed = True
        return orjson.dumps(answer) if changed else body

    def guard_stream(self, ctx: CallContext, policies: list[CompiledPolicy], stream, model: str,
                     judge: JudgeCall | None):
        """The stream itself, or wrapped in output guardrails when any apply."""
        if not any(r.applies_to("output") for p in policies for r in p.rules):
            return stream
        return GuardedStream(stream, [p for p in policies if any(r.applies_to("output") for r in p.rules)], judge,
                             max_chars=self.max_scan_chars)

    def finish_stream(self, ctx: CallContext, stream, model: str) -> None:
        """Record the verdict a guarded stream reached."""
        if isinstance(stream, GuardedStream) and stream.verdict is not None:
            self._record(ctx, "output", stream.verdict, model)

    def trace_llm(self, ctx: CallContext, kind: str, model: str, upstream_model: str, request: dict, output: object,
                  *, status: int, prompt_tokens: int, completion_tokens: int, cost: float, started_wall,
                  latency_ms: float) -> None:
        """The automatic `llm` event of a request that carried x-session-id."""
        if ctx.trace is None:
            return
        self._traces.record(ctx.identity.tenant_slug, TraceEvent(
            id=ctx.trace.event_id, session_id=ctx.trace.session_id, parent_id=ctx.trace.parent_id, type="llm",
            name=f"{kind} {model}", status="ok" if status < 400 else "error",
            input=request.get("messages") if kind == "chat" else request.get("input"), output=output, model=model,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cost_usd=cost,
            metadata={"upstream_model": upstream_model, "status": status, "request_id": ctx.request_id,
                      "latency_ms": round(latency_ms, 2), **({"prompt": ctx.prompt} if ctx.prompt else {}),
                      **({"guardrails": ctx.verdicts} if ctx.verdicts else {})},
            started_at=started_wall, ended_at=precise_now()))

