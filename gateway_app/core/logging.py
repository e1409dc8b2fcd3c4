"""Structured logging: JSON or pretty lines, each carrying the request context."""

from __future__ import annotations

import json
import logging
import sys
import time

from gateway_app.core.context import current_context

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "request_id", "tenant_id", "user_id", "taskName"}
)
_HANDLER_NAME = "gatehouse"


class ContextFilter(logging.Filter):
    """Copies request_id, tenant_id and user_id from the request context onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = current_context()
        record.request_id = ctx.request_id if ctx else ""
        record.tenant_id = ctx.tenant_id if ctx else ""
        record.user_id = ctx.user_id if ctx else ""
        return True


def _extras(record: logging.LogRecord) -> dict:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
            "tenant_id": getattr(record, "tenant_id", ""),
            "user_id": getattr(record, "user_id", ""),
        }
        payload.update(_extras(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class PrettyFormatter(logging.Formatter):
    """Readable single lines for a terminal, context in brackets."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%H:%M:%S", time.localtime(record.created))
        ctx = " ".join(
            f"{key}={value}"
            for key in ("request_id", "tenant_id", "user_id")
            if (value := getattr(record, key, ""))
        )
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{ts} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if ctx:
            line += f" [{ctx}]"
        if extras:
            line += f" {extras}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(fmt: str = "pretty", level: str = "INFO", stream=None) -> None:
    """Install one handler on the root logger (idempotent: replaces our previous handler)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else PrettyFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # Our own access line replaces uvicorn's; keep library chatter at warning.
    for noisy in ("uvicorn.access", "httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    """A logger under the gatehouse namespace."""
    return logging.getLogger(f"gatehouse.{name}")
