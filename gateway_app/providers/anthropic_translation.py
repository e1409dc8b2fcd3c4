"""Translation between OpenAI chat completions and Anthropic's Messages API (both directions)."""

from __future__ import annotations

import time

import orjson

from gateway_app.providers.sse import sse_data

FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
                  "pause_turn": "stop", "refusal": "content_filter"}
DEFAULT_MAX_TOKENS = 1024


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _image_block(part: dict) -> dict:
    url = (part.get("image_url") or {}).get("url", "")
    if url.startswith("data:") and ";base64," in url:
        media, data = url[5:].split(";base64,", 1)
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _content_blocks(content) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for part in content or []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif part.get("type") == "image_url":
            blocks.append(_image_block(part))
    return blocks


def _merge(messages: list[dict], role: str, blocks: list[dict]) -> None:
    # Anthropic wants user/assistant turns alternating: consecutive same-role turns are merged.
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(blocks)
    else:
        messages.append({"role": role, "content": blocks})


def to_messages_request(payload: dict, upstream_model: str) -> dict:
    """An OpenAI chat request as an Anthropic Messages request."""
    system_parts: list[str] = []
    messages: list[dict] = []
    for message in payload.get("messages", []):
        role = message.get("role")
        if role in ("system", "developer"):
            system_parts.append(_text_of(message.get("content")))
        elif role == "tool":
            _merge(messages, "user", [{"type": "tool_result", "tool_use_id": message.get("tool_call_id", ""),
                                       "content": _text_of(message.get("content"))}])
        elif role == "assistant":
            blocks = _content_blocks(message.get("content"))
            for call in message.get("tool_calls") or []:
                function = call.get("function", {})
                try:
                    arguments = orjson.loads(function.get("arguments") or "{}")
                except orjson.JSONDecodeError:
                    arguments = {}
                blocks.append({"type": "tool_use", "id": call.get("id", ""), "name": function.get("name", ""),
                               "input": arguments})
            _merge(messages, "assistant", blocks)
        else:
            _merge(messages, "user", _content_blocks(message.get("content")))

    request: dict = {
        "model": upstream_model,
        "messages": messages,
        "max_tokens": payload.get("max_tokens") or payload.get("max_completion_tokens") or DEFAULT_MAX_TOKENS,
    }
    if system_parts:
        request["system"] = "\n\n".join(p for p in system_parts if p)
    for name in ("temperature", "top_p", "top_k"):
        if payload.get(name) is not None:
            request[name] = payload[name]
    stop = payload.get("stop")
    if stop:
        request["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if payload.get("user"):
        request["metadata"] = {"user_id": str(payload["user"])}
    tools = payload.get("tools")
    if tools:
        request["tools"] = [{"name": t["function"]["name"], "description": t["function"].get("description", ""),
                             "input_schema": t["function"].get("parameters") or {"type": "object", "properties": {}}}
                            for t in tools if t.get("type") == "function"]
        choice = payload.get("tool_choice")
        if choice == "required":
            request["tool_choice"] = {"type": "any"}
        elif choice == "none":
            request["tool_choice"] = {"type": "none"}
        elif isinstance(choice, dict) and choice.get("function"):
            request["tool_choice"] = {"type": "tool", "name": choice["function"]["name"]}
        elif choice == "auto":
            request["tool_choice"] = {"type": "auto"}
    if payload.get("stream"):
        request["stream"] = True
    return request


def usage_of(usage: dict | None) -> dict | None:
    """Anthropic usage as OpenAI usage."""
    if not usage:
        return None
    prompt = int(usage.get("input_tokens") or 0) + int(usage.get("cache_read_input_tokens") or 0) \
        + int(usage.get("cache_creation_input_tokens") or 0)
    completion = int(usage.get("output_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def from_messages_response(response: dict, model_name: str) -> dict:
    """An Anthropic Messages response as an OpenAI chat.completion."""
    text, tool_calls = [], []
    for block in response.get("content") or []:
        if block.get("type") == "text":
            text.append(block.get("text", ""))
        elif block.get("type") == "tool_use":
            tool_calls.append({"id": block.get("id", ""), "type": "function",
                               "function": {"name": block.get("name", ""),
                                            "arguments": orjson.dumps(block.get("input") or {}).decode()}})
    message: dict = {"role": "assistant", "content": "".join(text) if text or not tool_calls else None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": response.get("id", ""),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": response.get("model", model_name),
        "choices": [{"index": 0, "message": message,
                     "finish_reason": FINISH_REASONS.get(response.get("stop_reason") or "", "stop")}],
        "usage": usage_of(response.get("usage")),
    }


class StreamTranslator:
    """Turns Anthropic stream events into OpenAI chat.completion.chunk SSE bytes."""

    def __init__(self, model_name: str, wants_usage: bool) -> None:
        self._model = model_name
        self._wants_usage = wants_usage
        self._id = ""
        self._created = int(time.time())
        self._tool_index: dict[int, int] = {}
        self.input_usage: dict = {}
        self.output_tokens = 0
        self.content_events = 0

    def _chunk(self, delta: dict, finish_reason: str | None = None) -> bytes:
        chunk = {"id": self._id, "object": "chat.completion.chunk", "created": self._created, "model": self._model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
        return sse_data(chunk)

    def usage(self) -> dict | None:
        """Usage so far, OpenAI style."""
        return usage_of({**self.input_usage, "output_tokens": self.output_tokens})

    def event(self, name: str, data: dict) -> bytes:
        """SSE bytes for one Anthropic event (empty when it maps to nothing)."""
        if name == "message_start":
            message = data.get("message", {})
            self._id = message.get("id", "")
            self.input_usage = message.get("usage") or {}
            self.output_tokens = int(self.input_usage.get("output_tokens") or 0)
            return self._chunk({"role": "assistant", "content": ""})
        if name == "content_block_start":
            block = data.get("content_block", {})
            if block.get("type") == "tool_use":
                index = len(self._tool_index)
                self._tool_index[data.get("index", 0)] = index
                return self._chunk({"tool_calls": [{"index": index, "id": block.get("id", ""), "type": "function",
                                                    "function": {"name": block.get("name", ""), "arguments": ""}}]})
            return b""
        if name == "content_block_delta":
            delta = data.get("delta", {})
            self.content_events += 1
            if delta.get("type") == "text_delta":
                return self._chunk({"content": delta.get("text", "")})
            if delta.get("type") == "input_json_delta":
                index = self._tool_index.get(data.get("index", 0), 0)
                return self._chunk({"tool_calls": [{"index": index,
                                                    "function": {"arguments": delta.get("partial_json", "")}}]})
            return b""
        if name == "message_delta":
            usage = data.get("usage") or {}
            self.output_tokens = int(usage.get("output_tokens") or self.output_tokens)
            reason = (data.get("delta") or {}).get("stop_reason")
            return self._chunk({}, FINISH_REASONS.get(reason or "", "stop"))
        if name == "message_stop":
            tail = b""
            if self._wants_usage:
                usage_chunk = {"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                               "model": self._model, "choices": [], "usage": self.usage()}
                tail = sse_data(usage_chunk)
            return tail + b"data: [DONE]\n\n"
        return b""
