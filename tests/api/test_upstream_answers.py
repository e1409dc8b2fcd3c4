"""What comes back from an upstream is relayed only with the expected type, and its error text is sanitised."""

import orjson
import pytest

from tests.support.fake_upstream import Behaviour, Raw

HELLO = [{"role": "user", "content": "hello"}]
HTML = b"<html><body><h1>502 Bad Gateway</h1><p>nginx at db-7.corp.internal: SECRET-HTML</p></body></html>"
CHAT = orjson.dumps({"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"},
                                  "finish_reason": "stop"}], "usage": None})


@pytest.fixture
def call(client, gateway):
    """POST to the client API with the gateway's token; returns the response."""
    async def post(path: str, body: dict):
        return await client.post(path, headers={"Authorization": f"Bearer {gateway['token']}"}, json=body)
    return post


def chat(stream: bool = False) -> dict:
    return {"model": "gpt-test", "messages": HELLO, "stream": stream}


async def test_a_non_json_body_is_not_relayed(call, upstream):
    upstream.always(Behaviour(raw=Raw(200, b"root:x:0:0:SECRET-TEXT", "text/plain")))
    for path, body in (("/v1/chat/completions", chat()), ("/v1/embeddings", {"model": "embed-test", "input": "x"})):
        response = await call(path, body)
        assert response.status_code == 502, response.text
        assert "SECRET-TEXT" not in response.text
        assert "text/plain" in response.json()["error"]["message"]
    assert len(upstream.calls("/chat/completions")) == 1, "a wrong content type is not retried"


async def test_plain_text_is_not_relayed_as_a_stream(call, upstream):
    upstream.always(Behaviour(raw=Raw(200, b"data: SECRET-TEXT\n\n", "text/plain")))
    response = await call("/v1/chat/completions", chat(stream=True))
    assert response.status_code == 502 and "SECRET-TEXT" not in response.text
    upstream.always(Behaviour(raw=Raw(200, b'{"choices": [], "note": "SECRET-JSON"}', "application/json")))
    response = await call("/v1/chat/completions", chat(stream=True))
    assert response.status_code == 502 and "SECRET-JSON" not in response.text
    assert "text/event-stream" in response.json()["error"]["message"]


async def test_real_servers_content_types_are_accepted(call, upstream):
    # llama.cpp's server (sse-starlette) adds a charset; JSON may come as application/json; charset=utf-8 or +json.
    upstream.script(Behaviour(stream_content_type="text/event-stream; charset=utf-8", content="one two"))
    streamed = await call("/v1/chat/completions", chat(stream=True))
    assert streamed.status_code == 200 and "one" in streamed.text and streamed.text.rstrip().endswith("[DONE]")
    upstream.script(Behaviour(raw=Raw(200, CHAT, "application/vnd.example+json")))
    assert (await call("/v1/chat/completions", chat())).json()["choices"][0]["message"]["content"] == "fine"
    upstream.script(Behaviour(raw=Raw(200, CHAT, "Application/JSON; charset=UTF-8")))
    assert (await call("/v1/chat/completions", chat())).status_code == 200


async def test_an_html_error_page_is_not_echoed(call, upstream, admin):
    upstream.always(Behaviour(raw=Raw(500, HTML, "text/html")))
    response = await call("/v1/chat/completions", chat())
    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert "HTTP 500" in message and "SECRET" not in message and "<" not in message
    test = (await admin.call("POST", "/providers/fake/test", tenant="acme", expect=200)).json()
    assert not test["ok"] and "HTTP 500" in test["error"] and "SECRET" not in test["error"]
    upstream.always(Behaviour(raw=Raw(400, HTML, "text/html")))
    response = await call("/v1/chat/completions", chat())
    assert response.status_code == 400 and "SECRET" not in response.text
    assert response.json()["error"]["message"] == "upstream answered HTTP 400"


@pytest.mark.parametrize("body, content_type", [
    ({"error": "SECRET-STRING"}, "application/json"),
    ({"detail": "SECRET-DETAIL"}, "application/json"),
    ({"error": {"message": ["SECRET-LIST"]}}, "application/json"),
    ({"error": {"message": "SECRET-AS-TEXT"}}, "text/plain"),
], ids=["string-error", "other-shape", "message-not-a-string", "json-sent-as-text"])
async def test_error_text_outside_the_known_shapes_never_passes(call, upstream, body, content_type):
    upstream.always(Behaviour(raw=Raw(400, orjson.dumps(body), content_type)))
    response = await call("/v1/chat/completions", chat())
    assert response.status_code == 400 and "SECRET" not in response.text
    assert response.json()["error"]["message"] == "upstream answered HTTP 400"


async def test_kept_error_messages_are_cleaned_and_capped(call, upstream):
    noisy = "context\x1b[31m too\u202e long\r\nSet-Cookie: x=1\x00" + "y" * 5000
    upstream.script(Behaviour(raw=Raw(400, orjson.dumps({"error": {"message": noisy, "type": "invalid_request_error",
                                                                   "code": "context_length_exceeded\n<b>"}}))))
    error = (await call("/v1/chat/completions", chat())).json()["error"]
    message = error["message"]
    assert message.startswith("upstream answered HTTP 400: context[31m too long Set-Cookie: x=1")
    assert not any(ord(c) < 32 or c == "\u202e" for c in message) and len(message) <= 300
    assert error["code"] == "upstream_invalid_request", "a code that is not a plain token is dropped"
    anthropic = {"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long"}}
    upstream.script(Behaviour(raw=Raw(400, orjson.dumps(anthropic))))
    error = (await call("/v1/chat/completions", chat())).json()["error"]
    assert error["message"] == "upstream answered HTTP 400: prompt is too long"


async def test_the_connection_test_takes_model_names_only_from_a_model_list(admin, gateway, upstream):
    async def test() -> dict:
        return (await admin.call("POST", "/providers/fake/test", tenant="acme", expect=200)).json()

    upstream.script(Behaviour(raw=Raw(200, b'{"data": [{"id": "SECRET-TEXT"}]}', "text/plain")))
    result = await test()
    assert not result["ok"] and "SECRET" not in str(result)
    upstream.script(Behaviour(raw=Raw(200, b'{"models": ["SECRET-SHAPE"]}')))
    result = await test()
    assert not result["ok"] and "SECRET" not in str(result) and "model list" in result["error"]
    upstream.script(Behaviour(raw=Raw(200, orjson.dumps({"data": [{"id": "good\x07-model"}, {"id": 5}, "SECRET",
                                                                  {"name": "SECRET-NAME"}]}))))
    result = await test()
    assert result["ok"] and result["models"] == ["good-model"]


async def test_files_answers_follow_the_same_rules(client, gateway, upstream):
    bearer = {"Authorization": f"Bearer {gateway['token']}"}
    upstream.script(Behaviour(raw=Raw(200, b"SECRET-TEXT", "text/plain")))
    response = await client.post("/v1/files", headers=bearer, files={"file": ("a.txt", b"hi")},
                                 data={"purpose": "batch"})
    assert response.status_code == 502 and "SECRET" not in response.text
    upstream.always(Behaviour(raw=Raw(500, HTML, "text/html")))
    response = await client.post("/v1/files", headers=bearer, files={"file": ("a.txt", b"hi")},
                                 data={"purpose": "batch"})
    assert response.status_code == 502 and "SECRET" not in response.text and "HTTP 500" in response.text
    assert len(upstream.calls("/v1/files")) == 4, "the first try, then two retries (HTTP 500 is retryable)"
