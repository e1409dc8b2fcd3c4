"""The extraction model's two jobs: turn a conversation into self-contained facts, and decide ADD / UPDATE /
DELETE / NONE for each fact against the most similar existing memories. Its answers are parsed strictly:
anything unusable is a 502 naming the model, never an empty success."""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from gateway_app.core.errors import GatehouseError
from gateway_app.core.ids import fast_id
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.inference.gateway import Completed, InferenceService
from gateway_app.services.prompts import PromptRenderer, RenderRequest
from gateway_app.services.tracing import LlmTrace

MAX_FACTS = 50
MAX_FACT_CHARS = 1000
EVENTS = ("ADD", "UPDATE", "DELETE", "NONE")
FACTS_INSTRUCTIONS = (
    "You extract facts worth remembering from a conversation: preferences, personal details, plans, "
    "relationships, decisions. Write each fact as one short sentence that stands on its own and names its "
    "subject: write \"Bob has a PhD\", never \"has a PhD\"; write \"The user ...\" when the user's name is "
    "unknown. Skip greetings and small talk. Reply with JSON only, in this shape: "
    "{\"facts\": [\"...\", \"...\"]}. Reply {\"facts\": []} when there is nothing worth remembering.")
DECISION_INSTRUCTIONS = (
    "You keep a memory of facts up to date. For each new fact, compare it with the numbered existing memories "
    "and decide one event: ADD when it is new information; UPDATE when an existing memory is about the same "
    "thing but the new fact changes or completes it (give that memory's number and the full new text); DELETE "
    "when the new fact says an existing memory is no longer true (give that memory's number); NONE when an "
    "existing memory already says it (give that memory's number). Reply with JSON only, in this shape: "
    "{\"decisions\": [{\"fact\": 1, \"event\": \"ADD\"}, {\"fact\": 2, \"event\": \"UPDATE\", \"memory\": 1, "
    "\"text\": \"...\"}, {\"fact\": 3, \"event\": \"DELETE\", \"memory\": 2}, {\"fact\": 4, \"event\": \"NONE\", "
    "\"memory\": 3}]}")


class ExtractionFailed(GatehouseError):
    """The extraction model failed or answered something that is not the JSON asked for."""

    code = "extraction_failed"
    status = 502


@dataclass(slots=True)
class Decision:
    """What to do with one new fact."""

    fact: int  # 0-based index into the facts
    event: str
    memory: int | None = None  # 0-based index into the candidates
    text: str = ""


def _json_object(model: str, content: str, what: str) -> dict:
    """The JSON object in a model's answer (a ```json fence or prose around it is tolerated)."""
    start, end = content.find("{"), content.rfind("}")
    if start < 0 or end <= start:
        raise ExtractionFailed(f"the extraction model {model!r} answered without the JSON {what} asked for: "
                               f"{content[:200]!r}")
    try:
        value = orjson.loads(content[start:end + 1])
    except orjson.JSONDecodeError:
        raise ExtractionFailed(f"the extraction model {model!r} answered invalid JSON for the {what}: "
                               f"{content[:200]!r}") from None
    if not isinstance(value, dict):
        raise ExtractionFailed(f"the extraction model {model!r} answered JSON that is not an object")
    return value


def parse_facts(model: str, content: str) -> list[str]:
    """The facts of an extraction answer: strings, at most MAX_FACTS, each at most MAX_FACT_CHARS."""
    facts = _json_object(model, content, "facts").get("facts")
    if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
        raise ExtractionFailed(f"the extraction model {model!r} answered without a 'facts' list of strings")
    facts = [" ".join(f.split()) for f in facts if f.strip()]
    if len(facts) > MAX_FACTS or any(len(f) > MAX_FACT_CHARS for f in facts):
        raise ExtractionFailed(f"the extraction model {model!r} answered more than {MAX_FACTS} facts or a fact "
                               f"longer than {MAX_FACT_CHARS} characters")
    return facts


def parse_decisions(model: str, content: str, facts: int, candidates: int) -> list[Decision]:
    """One decision per fact the model named; numbers out of range or unknown events are a 502."""
    items = _json_object(model, content, "decisions").get("decisions")
    if not isinstance(items, list):
        raise ExtractionFailed(f"the extraction model {model!r} answered without a 'decisions' list")
    decisions: dict[int, Decision] = {}
    for item in items[:MAX_FACTS * 2]:
        if not isinstance(item, dict):
            raise ExtractionFailed(f"the extraction model {model!r} answered a decision that is not an object")
        fact, event, memory = item.get("fact"), str(item.get("event", "")).upper(), item.get("memory")
        if isinstance(fact, str) and fact.isdigit():
            fact = int(fact)
        if isinstance(memory, str) and memory.isdigit():
            memory = int(memory)
        if not isinstance(fact, int) or not 1 <= fact <= facts or event not in EVENTS:
            raise ExtractionFailed(f"the extraction model {model!r} answered a decision for an unknown fact or "
                                   f"event: {orjson.dumps(item).decode()[:200]}")
        if event != "ADD" and not (isinstance(memory, int) and 1 <= memory <= candidates):
            raise ExtractionFailed(f"the extraction model {model!r} answered {event} without the number of an "
                                   f"existing memory: {orjson.dumps(item).decode()[:200]}")
        text = item.get("text") if isinstance(item.get("text"), str) else ""
        if event == "UPDATE" and (not text.strip() or len(text) > MAX_FACT_CHARS):
            raise ExtractionFailed(f"the extraction model {model!r} answered UPDATE without a usable new text")
        decisions.setdefault(fact - 1, Decision(fact - 1, event, memory - 1 if event != "ADD" else None,
                                                " ".join(text.split())))
    return [decisions[i] for i in sorted(decisions)]


MAX_OUTPUT_TOKENS = 1024  # of an extraction or decision answer (a few dozen facts)


def conversation_text(messages: list[dict]) -> str:
    """The conversation as the extraction model reads it, one 'role: text' line per message."""
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages)


class Extractor:
    """Calls the store's extraction model (usage, quotas, traces as any chat call)."""

    def __init__(self, inference: InferenceService, prompts: PromptRenderer) -> None:
        self._inference = inference
        self._prompts = prompts

    async def _ask(self, identity: ClientIdentity, model: str, messages: list[dict], store: str,
                   trace: LlmTrace | None) -> str:
        # Bounded output: a model that rambles costs the tenant at most this many tokens per call.
        payload = {"model": model, "messages": messages, "temperature": 0, "max_tokens": MAX_OUTPUT_TOKENS}
        try:
            done = await self._inference.chat(identity, payload, fast_id("mex"), trace, memory_store=store)
        except GatehouseError as exc:
            raise ExtractionFailed(f"the extraction model {model!r} failed: {exc.message}") from None
        try:
            content = orjson.loads(done.body)["choices"][0]["message"]["content"] if isinstance(done, Completed) \
                else None
        except (ValueError, KeyError, IndexError, TypeError):
            content = None
        if not isinstance(content, str) or not content.strip():
            raise ExtractionFailed(f"the extraction model {model!r} answered no text")
        return content

    async def facts(self, identity: ClientIdentity, store, messages: list[dict], trace: LlmTrace | None) -> list[str]:
        """Self-contained facts of a conversation (the store's stored prompt, or the built-in one)."""
        conversation = conversation_text(messages)
        if store.prompt:
            rendered = await self._prompts.render(identity.tenant_slug, store.prompt["name"], RenderRequest(
                version=store.prompt.get("version"), label=store.prompt.get("label"),
                variables={"conversation": conversation}))
            asked = rendered.messages
        else:
            asked = [{"role": "system", "content": FACTS_INSTRUCTIONS},
                     {"role": "user", "content": f"Conversation:\n{conversation}"}]
        return parse_facts(store.extraction_model,
                           await self._ask(identity, store.extraction_model, asked, store.name, trace))

    async def decide(self, identity: ClientIdentity, store, facts: list[str], candidates: list[str],
                     trace: LlmTrace | None) -> list[Decision]:
        """A decision per new fact against the numbered candidates (facts it leaves out are ADDed)."""
        listing = "\n".join(f"{n}. {text}" for n, text in enumerate(candidates, start=1))
        new = "\n".join(f"{n}. {text}" for n, text in enumerate(facts, start=1))
        asked = [{"role": "system", "content": DECISION_INSTRUCTIONS},
                 {"role": "user", "content": f"Existing memories:\n{listing}\n\nNew facts:\n{new}"}]
        content = await self._ask(identity, store.extraction_model, asked, store.name, trace)
        decided = {d.fact: d for d in parse_decisions(store.extraction_model, content, len(facts), len(candidates))}
        return [decided.get(i) or Decision(i, "ADD") for i in range(len(facts))]


def normalised(text: str) -> str:
    """The text a hash is taken of: case, spacing and a final full stop do not make a new memory."""
    return re.sub(r"\s+", " ", text).strip().rstrip(".").casefold()
