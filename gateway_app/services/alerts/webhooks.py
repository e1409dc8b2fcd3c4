"""Alert webhooks: a JSON payload signed with HMAC-SHA256 over a timestamp and the body, retried with back-off.

Header `X-Gatehouse-Signature: t=<unix seconds>,v1=<hex hmac-sha256(secret, "<t>.<body>")>` (the
scheme Stripe and others use: the timestamp lets receivers refuse replays). Every connection goes
through the outbound policy (providers/guard.py), redirects are not followed, answers are read up
to 4 KiB. Each attempt is returned for the delivery log.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass

import aiohttp
import orjson

from gateway_app.core.outbound import BlockedAddress, OutboundPolicy
from gateway_app.providers.guard import new_session

SIGNATURE_HEADER = "X-Gatehouse-Signature"
MAX_ANSWER_BYTES = 4096


@dataclass(frozen=True)
class Attempt:
    """One try of a delivery: the status (0: no answer), the error, how long it took."""

    number: int
    status: int
    error: str
    ms: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now: float | None = None, tolerance: float = 300) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


async def deliver(policy: OutboundPolicy, url: str, secret: str, payload: dict, *, attempts: int = 3,
                  backoff: float = 1.0, timeout: float = 10.0) -> list[Attempt]:
    """POST the payload until a 2xx or `attempts` tries (waiting backoff, 2x backoff, ...); every attempt."""
    body = orjson.dumps(payload)
    done: list[Attempt] = []
    async with new_session(policy, url, limit=2) as session:
        for number in range(1, attempts + 1):
            started = time.perf_counter()
            headers = {"content-type": "application/json", "user-agent": "gatehouse-alerts",
                       SIGNATURE_HEADER: signature(secret, int(time.time()), body)}
            status, error = 0, ""
            try:
                async with session.post(url, data=body, headers=headers, allow_redirects=False,
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as answer:
                    status = answer.status
                    text = (await answer.content.read(MAX_ANSWER_BYTES)).decode(errors="replace")
                    error = "" if 200 <= status < 300 else f"HTTP {status}: {text[:200]}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                cause = getattr(exc, "os_error", exc)  # aiohttp wraps the connector's refusal
                if isinstance(cause, BlockedAddress):
                    done.append(Attempt(number, 0, str(cause), _ms(started)))
                    return done  # the policy will refuse the next try too
                error = f"{type(exc).__name__}: {exc}"[:300]
            done.append(Attempt(number, status, error, _ms(started)))
            if 200 <= status < 300 or (400 <= status < 500 and status not in (408, 429)):
                return done  # delivered, or refused for good
            if number < attempts:
                await asyncio.sleep(backoff * 2 ** (number - 1))
    return done


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
