"""OpenAI's Responses API as chat completions: input items in, response objects and typed events out.

Pure translation (no I/O): `to_chat` turns a request (plus the stored conversation of
`previous_response_id`) into a chat completion request; `response_object` and `ResponseEvents`
turn the chat answer, or its stream, back into a response and its event sequence.
"""

from __future__ import annotations

import time

import orjson

from gateway_app.core.errors import InvalidInput
from gateway_app.core.ids import fast_id
from gateway_app.providers.sse import chunk_events, sse_event

MAX_OUTPUT_TOKENS = 1_000_000
UNSUPPORTED = ("background", "conversation", "prompt", "prompt_cache_key", "safety_identifier_hash")
IGNORED = ("reasoning", "service_tier", "truncation", "prompt_cache_retention", "safety_identifier")
SUPPORTED_INCLUDE = ("file_search_call.results", "message.output_text.logprobs")
HOSTED_TOOLS = ("web_search", "web_search_preview", "computer_use_preview", "code_interpreter", "image_generation",
                "mcp", "local_shell", "shell", "apply_patch", "custom")


def _refuse(message: str, param: str) -> InvalidInput:
    return InvalidInput(message, param=param)


def _content_text(content, where: str) -> str | list[dict]:
    """A message's content as chat content: text, or parts when there are images."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _refuse(f"{where} must be a string or a list of content parts", where)
    parts: list[dict] = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "input_image":
            if not part.get("image_url"):
                raise _refuse(f"{where}[{i}]: only input images given by image_url are supported", f"{where}[{i}]")
            parts.append({"type": "image_url", "image_url": {"url": str(part["image_url"]),
                                                             "detail": part.get("detail") or "auto"}})
        elif kind == "refusal":
            parts.append({"type": "text", "text": str(part.get("refusal", ""))})
        else:
            raise _refuse(f"{where}[{i}]: content type {kind!r} is not supported", f"{where}[{i}]")
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def input_items(value) -> list[dict]:
    """The request's `input` as a list of items (a string is one user message), each with an id."""
    if isinstance(value, str):
        value = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}]
    if not isinstance(value, list) or not value:
        raise _refuse("'input' must be a non-empty string or array of items", "input")
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _refuse(f"input[{i}] must be an object", f"input[{i}]")
        item = dict(item)
        kind = item.setdefault("type", "message")
        if kind == "message" and isinstance(item.get("content"), str):
            part = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [{"type": part, "text": item["content"]}]
        item.setdefault("id", fast_id({"message": "msg", "function_call": "fc",
                                       "function_call_output": "fco"}.get(kind, "item")))
        items.append(item)
    return items


def chat_messages(items: list[dict]) -> list[dict]:
    """Input items as chat messages (consecutive function calls become one assistant turn)."""
    messages: list[dict] = []
    for i, item in enumerate(items):
        kind, where = item["type"], f"input[{i}]"
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise _refuse(f"{where}.role must be user, assistant, system or developer", f"{where}.role")
            messages.append({"role": "system" if role == "developer" else role,
                             "content": _content_text(item.get("content"), f"{where}.content")})
        elif kind == "function_call":
            call = {"id": str(item.get("call_id", "")), "type": "function",
                    "function": {"name": str(item.get("name", "")), "arguments": str(item.get("arguments", ""))}}
            last = messages[-1] if messages else None
            if last and last["role"] == "assistant" and last.get("tool_calls") is not None and not last.get("content"):
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output", "")
            text = output if isinstance(output, str) else _content_text(output, f"{where}.output")
            messages.append({"role": "tool", "tool_call_id": str(item.get("call_id", "")),
                             "content": text if isinstance(text, str) else orjson.dumps(text).decode()})
        elif kind in ("reasoning", "file_search_call"):
            continue  # the model's reasoning, or a search already answered in the text that follows
        else:
            raise _refuse(f"{where}: item type {kind!r} is not supported", f"{where}.type")
    return messages


def function_tools(tools) -> tuple[list[dict], list[dict]]:
    """(chat function tools, file_search tools) of the request's tools; hosted tools are refused by name."""
    if not isinstance(tools, list):
        raise _refuse("'tools' must be an array", "tools")
    functions, searches = [], []
    for i, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "function":
            if not tool.get("name"):
                raise _refuse(f"tools[{i}].name is required", f"tools[{i}].name")
            function = {"name": str(tool["name"]), "description": str(tool.get("description") or ""),
                        "parameters": tool.get("parameters") or {"type": "object", "properties": {}}}
            if tool.get("strict") is not None:
                function["strict"] = bool(tool["strict"])
            functions.append({"type": "function", "function": function})
        elif kind == "file_search":
            ids = tool.get("vector_store_ids")
            if not isinstance(ids, list) or not ids or not all(isinstance(v, str) for v in ids):
                raise _refuse(f"tools[{i}].vector_store_ids must be a non-empty array of ids",
                              f"tools[{i}].vector_store_ids")
            searches.append(tool)
        elif kind in HOSTED_TOOLS:
            raise _refuse(f"tools[{i}]: the hosted tool {kind!r} is not supported by this gateway (function and "
                          "file_search tools are)", f"tools[{i}].type")
        else:
            raise _refuse(f"tools[{i}]: unknown tool type {kind!r}", f"tools[{i}].type")
    return functions, searches


def _tool_choice(choice):
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and choice.get("name"):
        return {"type": "function", "function": {"name": str(choice["name"])}}
    if isinstance(choice, dict) and choice.get("type") == "file_search":
        return "auto"  # the search runs before the model answers
    raise _refuse("'tool_choice' must be auto, none, required or {type: 'function', name}", "tool_choice")


def _text_format(text) -> dict:
    if text is None:
        return {}
    form = text.get("format") if isinstance(text, dict) else None
    if form is None or form.get("type") == "text":
        return {}
    if form.get("type") == "json_object":
        return {"response_format": {"type": "json_object"}}
    if form.get("type") == "json_schema" and isinstance(form.get("schema"), dict):
        schema = {"name": str(form.get("name") or "output"), "schema": form["schema"]}
        if form.get("strict") is not None:
            schema["strict"] = bool(form["strict"])
        return {"response_format": {"type": "json_schema", "json_schema": schema}}
    raise _refuse("'text.format' must be text, json_object or {type: 'json_schema', name, schema}", "text.format")


def check_request(payload: dict) -> list[str]:
    """Refuse what cannot be served; the hint fields that will be ignored."""
    for name in UNSUPPORTED:
        if payload.get(name) not in (None, False):
            raise _refuse(f"'{name}' is not supported by this gateway", name)
    if not isinstance(payload.get("model"), str) or not payload["model"]:
        raise _refuse("'model' is required", "model")
    cap = payload.get("max_output_tokens")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or not 16 <= cap <= MAX_OUTPUT_TOKENS):
        raise _refuse("'max_output_tokens' must be an integer of at least 16", "max_output_tokens")
    include = payload.get("include") or []
    if not isinstance(include, list):
        raise _refuse("'include' must be an array", "include")
    for name in include:
        if name not in SUPPORTED_INCLUDE:
            raise _refuse(f"include: {name!r} is not supported (supported: {', '.join(SUPPORTED_INCLUDE)})",
                          "include")
    if "stream" in payload and not isinstance(payload["stream"], bool):
        raise _refuse("'stream' must be a boolean", "stream")
    metadata = payload.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16
                                 or any(len(str(k)) > 64 or len(str(v)) > 512 for k, v in metadata.items())):
        raise _refuse("'metadata' holds at most 16 pairs (keys up to 64, values up to 512 characters)", "metadata")
    return [name for name in IGNORED if name in payload]


def to_chat(payload: dict, conversation: list[dict], functions: list[dict], context: str = "") -> dict:
    """The chat completion request of a Responses request: instructions, retrieved context, the conversation."""
    system = [str(payload["instructions"])] if payload.get("instructions") else []
    if context:
        system.append(context)
    messages = [{"role": "system", "content": "\n\n".join(system)}] if system else []
    chat: dict = {"model": payload["model"], "messages": [*messages, *conversation]}
    if payload.get("max_output_tokens"):
        chat["max_tokens"] = payload["max_output_tokens"]
    for name in ("temperature", "top_p", "parallel_tool_calls", "user", "top_logprobs"):
        if payload.get(name) is not None:
            chat[name] = payload[name]
    if functions:
        chat["tools"] = functions
        if payload.get("tool_choice") is not None:
            chat["tool_choice"] = _tool_choice(payload["tool_choice"])
    chat.update(_text_format(payload.get("text")))
    if payload.get("stream"):
        chat["stream"], chat["stream_options"] = True, {"include_usage": True}
    return chat


def usage_of(usage: dict | None) -> dict:
    """Chat usage as Responses usage."""
    usage = usage or {}
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
            "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion}


def message_item(text: str, annotations: list[dict] | None = None, status: str = "completed",
                 item_id: str | None = None) -> dict:
    """An assistant output message."""
    return {"type": "message", "id": item_id or fast_id("msg"), "status": status, "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": annotations or [], "logprobs": []}]}


def call_item(call_id: str, name: str, arguments: str, status: str = "completed", item_id: str | None = None) -> dict:
    """A function call output item."""
    return {"type": "function_call", "id": item_id or fast_id("fc"), "call_id": call_id or fast_id("call"),
            "name": name, "arguments": arguments, "status": status}


def output_of(answer: dict) -> tuple[list[dict], str | None]:
    """(output items, finish reason) of a chat.completion."""
    choice = (answer.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    items = [message_item(message["content"])] if message.get("content") else []
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        items.append(call_item(call.get("id", ""), function.get("name", ""), function.get("arguments", "")))
    return items, choice.get("finish_reason")


def response_object(response_id: str, payload: dict, output: list[dict], usage: dict | None, finish: str | None,
                    status: str = "completed", created_at: int | None = None) -> dict:
    """The response object, echoing the request's settings as OpenAI does."""
    incomplete = finish == "length" and status == "completed"
    return {
        "id": response_id, "object": "response", "created_at": created_at or int(time.time()),
        "status": "incomplete" if incomplete else status, "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": payload.get("instructions"), "max_output_tokens": payload.get("max_output_tokens"),
        "model": payload["model"], "output": output, "parallel_tool_calls": payload.get("parallel_tool_calls", True),
        "previous_response_id": payload.get("previous_response_id"), "reasoning": {"effort": None, "summary": None},
        "store": payload.get("store", True), "temperature": payload.get("temperature"),
        "text": payload.get("text") or {"format": {"type": "text"}}, "tool_choice": payload.get("tool_choice", "auto"),
        "tools": payload.get("tools") or [], "top_p": payload.get("top_p"), "truncation": "disabled",
        "usage": usage_of(usage) if usage is not None else None, "user": payload.get("user"),
        "metadata": payload.get("metadata") or {},
    }


def history_after(conversation: list[dict], output: list[dict]) -> list[dict]:
    """The conversation as chat messages once this response's output is added (for previous_response_id)."""
    return conversation + chat_messages([item for item in output if item["type"] in ("message", "function_call")])


class ResponseEvents:
    """Turns chat.completion.chunk SSE bytes into the Responses stream's typed events."""

    def __init__(self, payload: dict, response_id: str, lead: list[dict] | None = None) -> None:
        self._payload = payload
        # The in-progress object; its output grows as items finish.
        self.response = response_object(response_id, payload, [], None, None, status="in_progress")
        self._sequence = 0
        self._text: dict | None = None  # the open message item: id, index, text
        self._calls: dict[int, dict] = {}  # open function calls by the chat stream's index
        self.usage: dict | None = None
        self.finish: str | None = None
        self.failed: str = ""
        self._lead = lead or []  # items already decided (file_search_call) before the model answers

    def _event(self, kind: str, data: dict) -> bytes:
        self._sequence += 1
        return sse_event(kind, {"type": kind, "sequence_number": self._sequence, **data})

    def start(self) -> bytes:
        """response.created and response.in_progress (and any lead items, done)."""
        snapshot = {**self.response, "status": "in_progress", "output": [], "usage": None}
        out = self._event("response.created", {"response": snapshot})
        out += self._event("response.in_progress", {"response": snapshot})
        for item in self._lead:
            index = len(self.response["output"])
            out += self._event("response.output_item.added", {"output_index": index,
                                                              "item": {**item, "status": "in_progress"}})
            out += self._event("response.output_item.done", {"output_index": index, "item": item})
            self.response["output"].append(item)
        return out

    def _open_text(self) -> bytes:
        index = len(self.response["output"]) + len(self._calls)
        self._text = {"id": fast_id("msg"), "index": index, "text": []}
        item = message_item("", status="in_progress", item_id=self._text["id"])
        item["content"] = []
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        return (self._event("response.output_item.added", {"output_index": index, "item": item})
                + self._event("response.content_part.added", {"item_id": self._text["id"], "output_index": index,
                                                              "content_index": 0, "part": part}))

    def _close_text(self, annotations: list[dict]) -> bytes:
        if self._text is None:
            return b""
        text, item_id, index = "".join(self._text["text"]), self._text["id"], self._text["index"]
        self._text = None
        item = message_item(text, [{**a, "index": len(text)} for a in annotations], item_id=item_id)
        self.response["output"].append(item)
        return (self._event("response.output_text.done", {"item_id": item_id, "output_index": index,
                                                          "content_index": 0, "text": text, "logprobs": []})
                + self._event("response.content_part.done", {"item_id": item_id, "output_index": index,
                                                             "content_index": 0, "part": item["content"][0]})
                + self._event("response.output_item.done", {"output_index": index, "item": item}))

    def feed(self, chunk: bytes) -> bytes:
        """The events for one chunk of the chat stream."""
        out = b""
        for data in chunk_events(chunk):
            if data is None:
                continue
            if data.get("error"):
                self.failed = str(data["error"].get("message", "the upstream stream failed"))
                continue
            if data.get("usage"):
                self.usage = data["usage"]
            for choice in data.get("choices") or ():
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    if self._text is None:
                        out += self._open_text()
                    self._text["text"].append(delta["content"])
                    out += self._event("response.output_text.delta", {
                        "item_id": self._text["id"], "output_index": self._text["index"], "content_index": 0,
                        "delta": delta["content"], "logprobs": []})
                for call in delta.get("tool_calls") or ():
                    out += self._call_delta(call)
                if choice.get("finish_reason"):
                    self.finish = choice["finish_reason"]
        return out

    def _call_delta(self, call: dict) -> bytes:
        key, function, out = int(call.get("index", 0)), call.get("function") or {}, b""
        if key not in self._calls:
            index = len(self.response["output"]) + len(self._calls) + (1 if self._text is not None else 0)
            self._calls[key] = {"id": fast_id("fc"), "index": index, "call_id": call.get("id") or fast_id("call"),
                                "name": function.get("name", ""), "arguments": []}
            opened = self._calls[key]
            out += self._event("response.output_item.added", {"output_index": index, "item": call_item(
                opened["call_id"], opened["name"], "", status="in_progress", item_id=opened["id"])})
        current = self._calls[key]
        if function.get("arguments"):
            current["arguments"].append(function["arguments"])
            out += self._event("response.function_call_arguments.delta", {
                "item_id": current["id"], "output_index": current["index"], "delta": function["arguments"]})
        return out

    def end(self, annotations: list[dict] | None = None) -> bytes:
        """Close the open items (the text cites `annotations` at its end), then response.completed (or
        .incomplete / .failed) with the whole response."""
        out = self._close_text(annotations or [])
        for current in sorted(self._calls.values(), key=lambda c: c["index"]):
            arguments = "".join(current["arguments"])
            item = call_item(current["call_id"], current["name"], arguments, item_id=current["id"])
            self.response["output"].append(item)
            out += self._event("response.function_call_arguments.done", {
                "item_id": current["id"], "output_index": current["index"], "arguments": arguments,
                "name": current["name"]})
            out += self._event("response.output_item.done", {"output_index": current["index"], "item": item})
        self._calls = {}
        if self.failed:
            final = {**self.response, "status": "failed", "usage": usage_of(self.usage),
                     "error": {"code": "server_error", "message": self.failed}}
            return out + self._event("response.failed", {"response": final})
        final = response_object(self.response["id"], self._payload, self.response["output"], self.usage or {},
                                self.finish, created_at=self.response["created_at"])
        self.response = final
        kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        return out + self._event(kind, {"response": final})
