"""Password hashing (scrypt), console JWTs (HS256) and API token material."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import jwt

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
API_TOKEN_PREFIX = "gh-"


class InvalidCredentials(Exception):
    """A JWT or password check failed."""


def hash_password(password: str) -> str:
    """Hash a password with scrypt; the result carries its parameters and salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Check a password against a stored scrypt hash in constant time."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


class HasherBusy(Exception):
    """Too many password checks are waiting: the caller should answer 429/503 at once."""


class PasswordHasher:
    """scrypt on its own small, bounded executor.

    A login flood then uses at most `workers` threads (and cores), never the thread pool that
    cache misses and management requests share, and a queue beyond `max_waiting` is refused
    instead of growing.
    """

    def __init__(self, workers: int = 1, max_waiting: int = 64) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password-hash")
        self._slots = threading.BoundedSemaphore(workers + max_waiting)
        self.runs = 0  # scrypt computations started (for tests and metrics)

    def _run(self, fn, *args):
        if not self._slots.acquire(blocking=False):
            raise HasherBusy("too many password checks in progress")
        self.runs += 1
        future = self._executor.submit(fn, *args)
        future.add_done_callback(lambda _f: self._slots.release())
        return future

    async def verify(self, password: str, encoded: str) -> bool:
        """verify_password off the event loop and off the shared thread pool."""
        return await asyncio.wrap_future(self._run(verify_password, password, encoded))

    async def hash(self, password: str) -> str:
        """hash_password, likewise."""
        return await asyncio.wrap_future(self._run(hash_password, password))

    def hash_blocking(self, password: str) -> str:
        """hash_password for synchronous callers (they wait; the CPU work stays bounded)."""
        return self._run(hash_password, password).result()

    def close(self) -> None:
        """Stop the executor."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def generate_password() -> str:
    """A random password for a generated first admin."""
    return secrets.token_urlsafe(15)


@dataclass(frozen=True, slots=True)
class NewApiToken:
    """A freshly generated API token: the secret is shown once, only the hash is stored."""

    secret: str
    token_hash: str
    prefix: str


def hash_api_token(secret: str) -> str:
    """SHA-256 of an API token (tokens are high-entropy, so a fast hash is right here)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_api_token() -> NewApiToken:
    """32 random bytes, url-safe, with a recognisable prefix."""
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return NewApiToken(secret=secret, token_hash=hash_api_token(secret), prefix=secret[:10])


class JwtCodec:
    """Issues and checks short-lived HS256 tokens for the console and management API."""

    def __init__(self, secret: str, ttl_seconds: int, issuer: str = "gatehouse") -> None:
        self._secret = secret
        self._ttl = ttl_seconds
        self._issuer = issuer

    @property
    def ttl_seconds(self) -> int:
        """Lifetime of issued tokens."""
        return self._ttl

    def issue(self, claims: dict) -> str:
        """Sign claims with iat/exp/iss added."""
        now = int(time.time())
        payload = {**claims, "iat": now, "exp": now + self._ttl, "iss": self._issuer}
        return jwt.encode(payload, self._secret, algorithm="HS256")

    def decode(self, token: str) -> dict:
        """Verify signature, expiry and issuer; raise InvalidCredentials otherwise."""
        try:
            return jwt.decode(
                token, self._secret, algorithms=["HS256"], issuer=self._issuer,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidCredentials("session expired") from None
        except jwt.PyJWTError:
            raise InvalidCredentials("invalid token") from None
