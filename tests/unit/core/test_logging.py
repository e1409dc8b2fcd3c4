"""Log lines carry the request context (request_id, tenant_id, user_id)."""

import io
import json
import logging

from gateway_app.core.context import begin_request, bind, end_request
from gateway_app.core.logging import configure_logging, get_logger


def test_json_lines_carry_request_context():
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    try:
        ctx, token = begin_request("req-123")
        bind(tenant_id="acme", user_id="usr_1")
        get_logger("test").info("hello", extra={"model": "gpt"})
        end_request(token)
        get_logger("test").info("outside")
    finally:
        configure_logging("pretty", "INFO")
    first, second = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert first["msg"] == "hello"
    assert (first["request_id"], first["tenant_id"], first["user_id"]) == ("req-123", "acme", "usr_1")
    assert first["model"] == "gpt" and first["level"] == "info"
    assert second["request_id"] == "" and second["tenant_id"] == ""


def test_pretty_lines_show_context_in_brackets():
    stream = io.StringIO()
    configure_logging("pretty", "INFO", stream=stream)
    try:
        _, token = begin_request("req-9")
        bind(tenant_id="t1")
        logging.getLogger("gatehouse.x").warning("careful")
        end_request(token)
    finally:
        configure_logging("pretty", "INFO")
    line = stream.getvalue().strip()
    assert "careful" in line and "request_id=req-9" in line and "tenant_id=t1" in line


def test_configure_logging_is_idempotent():
    configure_logging("json", "INFO")
    configure_logging("pretty", "INFO")
    ours = [h for h in logging.getLogger().handlers if h.get_name() == "gatehouse"]
    assert len(ours) == 1
