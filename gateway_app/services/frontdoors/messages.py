"""Anthropic's Messages API in front of chat completions: requests in, answers and streams back out.

Every model of a tenant, of any provider type, is reachable through `/v1/messages`: the request is
translated to a chat completion, goes through the one pipeline (quotas, guardrails, fallbacks,
usage, traces) and the answer is translated back. `anthropic` providers translate the chat request
to Messages again on their side (a round trip that keeps one pipeline).
"""

from __future__ import annotations

import orjson

from gateway_app.core.errors import InvalidInput
from gateway_app.core.ids import fast_id
from gateway_app.providers.sse import chunk_events, sse_event
from gateway_app.services.client_auth import ClientIdentity
from gateway_app.services.frontdoors.relay import translated
from gateway_app.services.inference.gateway import Completed, InferenceService, Streaming
from gateway_app.services.inference.quotas import estimate_tokens
from gateway_app.services.tracing import LlmTrace

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                "content_filter": "refusal"}
MAX_TOKENS_CAP = 1_000_000
# Fields a chat completion has no equivalent for: refused by name rather than dropped.
UNSUPPORTED = ("container", "mcp_servers")
# Hints only: the answer is the same without them (named in the x-gatehouse-ignored answer header).
IGNORED = ("thinking", "service_tier", "context_management", "cache_control", "inference_geo", "speed",
           "diagnostics", "user_profile_id", "workspace_id")


def _refuse(message: str, param: str) -> InvalidInput:
    return InvalidInput(message, param=param)


def _text(content, where: str) -> str:
    """The text of a string or a list of text blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for i, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise _refuse(f"{where}[{i}]: only text blocks are supported here", f"{where}[{i}]")
            parts.append(str(block.get("text", "")))
        return "\n".join(parts)
    raise _refuse(f"{where} must be a string or a list of text blocks", where)


def _image_part(block: dict, where: str) -> dict:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        return {"type": "image_url", "image_url": {"url": f"data:{source.get('media_type', 'image/png')};base64,"
                                                          f"{source.get('data', '')}"}}
    if source.get("type") == "url":
        return {"type": "image_url", "image_url": {"url": str(source.get("url", ""))}}
    raise _refuse(f"{where}: image source type {source.get('type')!r} is not supported", where)


def _user_turn(content, where: str) -> list[dict]:
    """A user turn as chat messages: tool results first (role tool), then the rest as one user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise _refuse(f"{where}.content must be a string or a list of blocks", f"{where}.content")
    tools, parts = [], []
    for i, block in enumerate(content):
        at = f"{where}.content[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind == "image":
            parts.append(_image_part(block, at))
        elif kind == "tool_result":
            result = block.get("content", "")
            text = _text(result, f"{at}.content") if not isinstance(result, str) else result
            if block.get("is_error"):
                text = f"Error: {text}"
            tools.append({"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")), "content": text})
        elif kind in ("thinking", "redacted_thinking"):
            continue
        else:
            raise _refuse(f"{at}: content block type {kind!r} is not supported", at)
    if not parts:
        return tools
    only_text = all(p["type"] == "text" for p in parts)
    return [*tools, {"role": "user", "content": "\n".join(p["text"] for p in parts) if only_text else parts}]


def _assistant_turn(content, where: str) -> dict:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    if not isinstance(content, list):
        raise _refuse(f"{where}.content must be a string or a list of blocks", f"{where}.content")
    text, calls = [], []
    for i, block in enumerate(content):
        at = f"{where}.content[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            text.append(str(block.get("text", "")))
        elif kind == "tool_use":
            calls.append({"id": str(block.get("id", "")), "type": "function",
                          "function": {"name": str(block.get("name", "")),
                                       "arguments": orjson.dumps(block.get("input") or {}).decode()}})
        elif kind in ("thinking", "redacted_thinking"):
            continue  # the model's own reasoning of an earlier turn: other models cannot use it
        else:
            raise _refuse(f"{at}: content block type {kind!r} is not supported in an assistant turn", at)
    message: dict = {"role": "assistant", "content": "".join(text) if text else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tools(tools) -> list[dict]:
    if not isinstance(tools, list):
        raise _refuse("'tools' must be an array", "tools")
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not tool.get("name"):
            raise _refuse(f"tools[{i}] must be an object with a 'name'", f"tools[{i}]")
        if tool.get("type") not in (None, "custom"):
            raise _refuse(f"tools[{i}]: server tool {tool['type']!r} is not supported: only client tools "
                          "(name, description, input_schema)", f"tools[{i}]")
        out.append({"type": "function", "function": {
            "name": str(tool["name"]), "description": str(tool.get("description", "")),
            "parameters": tool.get("input_schema") or {"type": "object", "properties": {}}}})
    return out


def _tool_choice(choice) -> tuple[object, bool | None]:
    """(chat tool_choice, parallel_tool_calls) of an Anthropic tool_choice."""
    if not isinstance(choice, dict):
        raise _refuse("'tool_choice' must be an object", "tool_choice")
    kind = choice.get("type")
    parallel = False if choice.get("disable_parallel_tool_use") else None
    if kind == "auto":
        return "auto", parallel
    if kind == "any":
        return "required", parallel
    if kind == "none":
        return "none", None
    if kind == "tool" and choice.get("name"):
        return {"type": "function", "function": {"name": str(choice["name"])}}, parallel
    raise _refuse("'tool_choice.type' must be auto, any, tool (with a name) or none", "tool_choice")


def _output_config(config) -> dict:
    """Structured output (`output_config.format`, a JSON schema) as chat's response_format."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise _refuse("'output_config' must be an object", "output_config")
    form = config.get("format")
    if form is None:
        return {}
    if not isinstance(form, dict) or form.get("type") != "json_schema" or not isinstance(form.get("schema"), dict):
        raise _refuse("'output_config.format' must be {type: 'json_schema', schema: {...}}", "output_config.format")
    return {"response_format": {"type": "json_schema", "json_schema": {"name": "output", "schema": form["schema"],
                                                                       "strict": True}}}


def to_chat(payload: dict) -> tuple[dict, list[str]]:
    """A Messages request as a chat completion request, and the hint fields that were ignored."""
    for name in UNSUPPORTED:
        if name in payload:
            raise _refuse(f"'{name}' is not supported by this gateway", name)
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise _refuse("model: Field required", "model")
    max_tokens = payload.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not 1 <= max_tokens <= MAX_TOKENS_CAP:
        raise _refuse("max_tokens: a positive integer is required", "max_tokens")
    turns = payload.get("messages")
    if not isinstance(turns, list) or not turns:
        raise _refuse("messages: at least one message is required", "messages")
    messages: list[dict] = []
    if payload.get("system") not in (None, "", []):
        messages.append({"role": "system", "content": _text(payload["system"], "system")})
    for i, turn in enumerate(turns):
        where = f"messages[{i}]"
        role = turn.get("role") if isinstance(turn, dict) else None
        if role == "user":
            messages += _user_turn(turn.get("content"), where)
        elif role == "assistant":
            messages.append(_assistant_turn(turn.get("content"), where))
        else:
            raise _refuse(f"{where}.role must be 'user' or 'assistant'", f"{where}.role")
    chat: dict = {"model": model, "messages": messages, "max_tokens": max_tokens}
    for name in ("temperature", "top_p", "top_k"):
        if payload.get(name) is not None:
            chat[name] = payload[name]
    if payload.get("stop_sequences"):
        if not isinstance(payload["stop_sequences"], list):
            raise _refuse("'stop_sequences' must be an array of strings", "stop_sequences")
        chat["stop"] = [str(s) for s in payload["stop_sequences"]][:4]
    if payload.get("tools"):
        chat["tools"] = _tools(payload["tools"])
    if payload.get("tool_choice") is not None:
        chat["tool_choice"], parallel = _tool_choice(payload["tool_choice"])
        if parallel is not None and chat.get("tools"):
            chat["parallel_tool_calls"] = parallel
    chat.update(_output_config(payload.get("output_config")))
    user = (payload.get("metadata") or {}).get("user_id") if isinstance(payload.get("metadata"), dict) else None
    if user:
        chat["user"] = str(user)
    if "stream" in payload:
        if not isinstance(payload["stream"], bool):
            raise _refuse("'stream' must be a boolean", "stream")
        if payload["stream"]:
            chat["stream"], chat["stream_options"] = True, {"include_usage": True}
    ignored = [name for name in IGNORED if name in payload]
    if isinstance(payload.get("output_config"), dict) and payload["output_config"].get("effort"):
        ignored.append("output_config.effort")
    return chat, ignored


def usage_of(usage: dict | None) -> dict:
    """Chat usage as Messages usage."""
    usage = usage or {}
    return {"input_tokens": int(usage.get("prompt_tokens") or 0), "output_tokens": int(usage.get("completion_tokens")
                                                                                       or 0),
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def _tool_input(arguments: str) -> dict:
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {"_raw": arguments}  # the model wrote something that is not JSON: keep it visible
    return value if isinstance(value, dict) else {"value": value}


def from_chat(body: bytes, model: str) -> dict:
    """A chat.completion as a Messages answer."""
    answer = orjson.loads(body)
    choice = (answer.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[dict] = []
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id") or fast_id("toolu"), "name": function.get("name", ""),
                        "input": _tool_input(function.get("arguments", ""))})
    return {"id": fast_id("msg"), "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn"), "stop_sequence": None,
            "usage": usage_of(answer.get("usage"))}


def event(name: str, data: dict) -> bytes:
    """One server-sent event of the Messages stream."""
    return sse_event(name, {"type": name, **data})


class MessagesStream:
    """Turns chat.completion.chunk SSE bytes into the Messages stream's events."""

    def __init__(self, model: str, input_tokens: int) -> None:
        self._model, self._input = model, input_tokens
        self._index = -1  # the open content block (-1: none)
        self._open: str | None = None  # "text" or the tool call's index as "tool:<n>"
        self._stop = "end_turn"
        self._usage: dict | None = None
        self.started = self.finished = False

    def start(self) -> bytes:
        """message_start and a ping."""
        self.started = True
        message = {"id": fast_id("msg"), "type": "message", "role": "assistant", "model": self._model, "content": [],
                   "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": self._input, "output_tokens": 0}}
        return event("message_start", {"message": message}) + event("ping", {})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return event("content_block_stop", {"index": self._index})

    def _begin(self, kind: str, block: dict) -> bytes:
        out = self._close()
        self._index += 1
        self._open = kind
        return out + event("content_block_start", {"index": self._index, "content_block": block})

    def feed(self, chunk: bytes) -> bytes:
        """The events for one chunk of the chat stream."""
        out = b""
        for data in chunk_events(chunk):
            if data is None:
                out += self.finish()
                continue
            if data.get("error"):
                error = data["error"]
                out += event("error", {"error": {"type": "api_error", "message": str(error.get("message", ""))}})
                self.finished = True
                continue
            if data.get("usage"):
                self._usage = data["usage"]
            for choice in data.get("choices") or ():
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    if self._open != "text":
                        out += self._begin("text", {"type": "text", "text": ""})
                    out += event("content_block_delta", {"index": self._index,
                                                         "delta": {"type": "text_delta", "text": delta["content"]}})
                for call in delta.get("tool_calls") or ():
                    key = f"tool:{call.get('index', 0)}"
                    function = call.get("function") or {}
                    if self._open != key:
                        out += self._begin(key, {"type": "tool_use", "id": call.get("id") or fast_id("toolu"),
                                                 "name": function.get("name", ""), "input": {}})
                    if function.get("arguments"):
                        out += event("content_block_delta", {"index": self._index, "delta": {
                            "type": "input_json_delta", "partial_json": function["arguments"]}})
                if choice.get("finish_reason"):
                    self._stop = STOP_REASONS.get(choice["finish_reason"], "end_turn")
        return out

    def finish(self) -> bytes:
        """Close the open block, then message_delta (stop reason, usage) and message_stop."""
        if self.finished:
            return b""
        self.finished = True
        usage = usage_of(self._usage)
        return (self._close() + event("message_delta", {"delta": {"stop_reason": self._stop, "stop_sequence": None},
                                                        "usage": {"output_tokens": usage["output_tokens"],
                                                                  "input_tokens": usage["input_tokens"] or self._input}})
                + event("message_stop", {}))


def estimated_input_tokens(chat: dict) -> int:
    """About 4 characters a token over the messages and the tool definitions (count_tokens, message_start)."""
    tools = len(orjson.dumps(chat["tools"])) // 4 if chat.get("tools") else 0
    return estimate_tokens({"messages": chat["messages"], "max_tokens": 1}) - 1 + tools


class MessagesDoor:
    """POST /v1/messages and /v1/messages/count_tokens over the chat pipeline."""

    def __init__(self, inference: InferenceService) -> None:
        self._inference = inference

    async def create(self, identity: ClientIdentity, payload: dict, request_id: str,
                     trace: LlmTrace | None = None) -> Completed | Streaming:
        """A Messages answer, or its event stream."""
        chat, ignored = to_chat(payload)
        outcome = await self._inference.chat(identity, chat, request_id, trace)
        headers = {**outcome.headers, **({"x-gatehouse-ignored": ",".join(ignored)} if ignored else {})}
        model = payload["model"]
        if isinstance(outcome, Completed):
            return Completed(orjson.dumps(from_chat(outcome.body, model)), headers)
        stream = MessagesStream(model, estimated_input_tokens(chat))
        return Streaming(translated(outcome.chunks, stream.start, stream.feed, stream.finish), headers)

    async def count_tokens(self, identity: ClientIdentity, payload: dict) -> dict:
        """{input_tokens}: an estimate for a model the token may use (404 for one it may not)."""
        chat, _ = to_chat({**payload, "max_tokens": payload.get("max_tokens") or 1, "stream": False})
        await self._inference.catalog.route(identity, chat["model"], "chat")
        return {"input_tokens": estimated_input_tokens(chat)}
