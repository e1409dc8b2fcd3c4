"""Playground: chat with a model through the same inference path (quotas, usage) as the client API."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time

import reflex as rx

from gateway_app.core.errors import GatehouseError
from gateway_app.core.ids import fast_id
from gateway_app.providers.sse import parse_sse
from state.base import in_thread, platform
from state.session import SessionState

UI_INTERVAL = 0.05  # seconds between updates of the answer being streamed into the browser


@dataclasses.dataclass
class ChatTurn:
    """One message of the conversation; assistant turns carry their measurements."""

    role: str = "user"
    content: str = ""
    stats: str = ""
    failed: bool = False


class PlaygroundState(SessionState):
    """State of /playground."""

    models: list[str] = []
    model: str = ""
    system_prompt: str = "You are a helpful assistant."
    temperature: float = 0.7
    turns: list[ChatTurn] = []
    draft: str = ""
    streaming: bool = False
    unavailable: str = ""
    prompt_note: str = ""  # "name vN" when opened from the prompts page

    @rx.event
    async def load(self):
        """Chat models the tenant can use here."""
        self.unavailable = ""
        if self.tenant_missing:
            return
        try:
            playground = platform().playground
            identity = await self.tenant_call(playground.identity)
            self.models = await playground.chat_models(identity)
        except GatehouseError as exc:
            self.unavailable, self.models = exc.message, []
            return
        if self.model not in self.models:
            self.model = self.models[0] if self.models else ""

    @rx.event
    def set_model(self, value: str):
        """Pick the model."""
        self.model = value

    @rx.event
    def set_temperature(self, value: list[float]):
        """Slider value."""
        self.temperature = round(value[0], 2)

    @rx.event
    def set_system_prompt(self, value: str):
        """System prompt for the next answers."""
        self.system_prompt = value

    @rx.event
    def set_draft(self, value: str):
        """The message being typed."""
        self.draft = value

    @rx.event
    def clear(self):
        """Start a new conversation."""
        self.turns = []
        self.prompt_note = ""

    async def _show_while(self, done: asyncio.Event, parts: list[str]) -> None:
        """Show the answer so far every UI_INTERVAL until `done` (the caller shows the final text)."""
        shown = 0
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), UI_INTERVAL)
            if len(parts) != shown and not done.is_set():
                shown = len(parts)
                text = "".join(parts)
                async with self:
                    self.turns = [*self.turns[:-1], ChatTurn("assistant", text)]

    @rx.event(background=True)
    async def send(self, form: dict | None = None):
        """Send the draft and stream the answer into the conversation as it arrives."""
        async with self:
            text = (self.draft or "").strip()
            if self.streaming or not text or not self.model:
                return
            self.turns = [*self.turns, ChatTurn("user", text), ChatTurn("assistant", "")]
            self.draft, self.streaming = "", True
            model, temperature = self.model, self.temperature
            messages = ([{"role": "system", "content": self.system_prompt}] if self.system_prompt.strip() else [])
            messages += [{"role": t.role, "content": t.content} for t in self.turns[:-1] if not t.failed]
            jwt, tenant = self.jwt, self.tenant_arg()
        playground = platform().playground
        started, first, usage, answer = time.perf_counter(), None, None, ""
        parts: list[str] = []  # the answer's pieces as they arrive
        try:
            principal = await in_thread(platform().auth.authenticate, jwt)
            identity = await in_thread(playground.identity, principal, tenant)
            stream = await playground.chat(identity, model, messages, temperature=temperature,
                                           request_id=fast_id("play"))
            # The stream is read as fast as the upstream sends; the browser gets the text so far at
            # most every UI_INTERVAL. (A state update per token, each one a round of Reflex's delta
            # and the browser's render, held the stream back: 20 tokens of a local model took 10 s.)
            reading = asyncio.Event()
            pusher = asyncio.create_task(self._show_while(reading, parts))
            try:
                async for chunk in stream.chunks:
                    delta, chunk_usage, error = parse_sse(chunk)
                    if error:
                        raise GatehouseError(error.get("message", "the upstream failed"))
                    usage = chunk_usage or usage
                    if delta:
                        first = first or time.perf_counter()
                        parts.append(delta)
            finally:
                reading.set()
                await pusher
            answer = "".join(parts)
            prompt = int((usage or {}).get("prompt_tokens") or 0)
            completion = int((usage or {}).get("completion_tokens") or 0)
            cost = await playground.cost(identity, model, prompt, completion)
            total_ms = (time.perf_counter() - started) * 1000
            ttft = f" · first token {(first - started) * 1000:.0f} ms" if first else ""
            # The figures the gateway recorded for this call (estimated when the upstream sent none).
            estimated = " (estimated)" if (usage or {}).get("estimated") else ""
            stats = f"{total_ms:.0f} ms{ttft} · {prompt} in / {completion} out tokens{estimated} · ${cost:.6f}"
            async with self:
                self.turns = [*self.turns[:-1], ChatTurn("assistant", answer, stats)]
        except GatehouseError as exc:
            async with self:
                self.turns = [*self.turns[:-1], ChatTurn("assistant", "".join(parts) or exc.message, "", failed=True)]
        finally:
            async with self:
                self.streaming = False
