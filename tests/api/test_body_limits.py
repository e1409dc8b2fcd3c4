"""Body limits: refused before buffering, on Content-Length and while a chunked body streams in."""

import httpx
import pytest

from api.app import create_api

LIMIT = 64 * 1024


@pytest.fixture
def settings(settings):
    """Small limits so the tests send little."""
    return settings.model_copy(update={"max_request_bytes": LIMIT, "max_upload_bytes": 4 * LIMIT})


async def _chunks(total: int, size: int = 16 * 1024):
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


async def test_declared_length_over_the_limit_is_413_in_openai_shape_and_reaches_no_upstream(
        client, gateway, upstream):
    body = b'{"model": "gpt-test", "messages": [{"role": "user", "content": "' + b"a" * LIMIT + b'"}]}'
    response = await client.post("/v1/chat/completions", content=body,
                                 headers={"Authorization": f"Bearer {gateway['token']}",
                                          "content-type": "application/json"})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "request_too_large" and error["type"] == "invalid_request_error"
    assert str(LIMIT) in error["message"]
    assert response.headers["x-request-id"]
    assert upstream.calls("/chat/completions") == []


async def test_chunked_body_growing_past_the_limit_is_cut_off(client, gateway, upstream):
    response = await client.post("/v1/chat/completions", content=_chunks(10 * LIMIT),
                                 headers={"Authorization": f"Bearer {gateway['token']}",
                                          "content-type": "application/json"})
    assert "content-length" not in response.request.headers  # really chunked
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert upstream.calls("/chat/completions") == []


async def test_a_body_under_the_limit_still_works(client, gateway, upstream):
    response = await client.post("/v1/chat/completions", json={"model": "gpt-test", "messages": [
        {"role": "user", "content": "a" * (LIMIT // 2)}]}, headers={"Authorization": f"Bearer {gateway['token']}"})
    assert response.status_code == 200, response.text


async def test_management_api_bodies_are_limited_too(admin, client):
    response = await client.post("/admin/v1/tenants", content=_chunks(2 * LIMIT),
                                 headers={**admin.headers(), "content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large" and "detail" in response.json()


async def test_uploads_have_their_own_larger_limit(platform, gateway):
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(platform)), base_url="http://gatehouse.test")
    headers = {"Authorization": f"Bearer {gateway['token']}"}
    async with http:
        too_big = await http.post("/v1/files", headers=headers, data={"purpose": "batch"},
                                  files={"file": ("big.jsonl", b"x" * (5 * LIMIT))})
        assert too_big.status_code == 413
        assert too_big.json()["error"]["code"] == "request_too_large"
        fits = await http.post("/v1/files", headers=headers, data={"purpose": "batch"},
                               files={"file": ("ok.jsonl", b'{"a": 1}\n' * (LIMIT // 8))})
        assert fits.status_code == 200, fits.text  # above the JSON limit, under the upload limit


async def test_a_client_leaving_mid_body_is_not_an_error(platform, gateway, caplog):
    import logging

    from api.app import create_api as build

    app = build(platform)
    sent = []

    async def receive():
        return {"type": "http.disconnect"}  # the client is gone before its body arrived

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
             "query_string": b"", "headers": [(b"authorization", f"Bearer {gateway['token']}".encode()),
                                              (b"content-type", b"application/json")],
             "client": ("127.0.0.1", 5), "server": ("test", 80), "scheme": "http", "http_version": "1.1",
             "root_path": "", "asgi": {"version": "3.0"}}
    with caplog.at_level(logging.INFO):
        await app(scope, receive, send)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not any(m.get("status") == 500 for m in sent)
