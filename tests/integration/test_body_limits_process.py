"""The real serve-api process refuses oversized bodies before buffering them: its memory stays flat."""

import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.support.servers import GatewayProcess

ADMIN = {"email": "ops@example.com", "password": "serve-api-pass-1"}
MB = 1024 * 1024


@pytest.fixture
def server(tmp_path):
    process = GatewayProcess.start(["serve-api", "--host", "127.0.0.1", "--workers", "1"], tmp_path / "data",
                                   tmp_path / "serve-api.log",
                                   extra_env={"ADMIN_EMAIL": ADMIN["email"], "ADMIN_PASSWORD": ADMIN["password"]})
    process.wait_ready(timeout=60)
    yield process
    process.stop()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _token(server) -> str:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        jwt = http.post("/admin/v1/auth/login", json=ADMIN).json()["access_token"]
        admin = {"Authorization": f"Bearer {jwt}"}
        assert http.post("/admin/v1/tenants", headers=admin, json={"slug": "acme", "name": "Acme"}).status_code == 201
        return http.post("/admin/v1/api-tokens", headers={**admin, "X-Tenant-Id": "acme"},
                         json={"name": "svc"}).json()["token"]


def _send_chunked(port: int, token: str, total: int) -> tuple[bytes, int]:
    """Stream a chunked JSON-looking body of `total` bytes; returns (response head, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    sock.sendall(head)
    chunk = b"a" * MB
    sent = 0
    try:
        while sent < total:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed while we were still sending: expected
    sock.settimeout(10)
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except OSError:
        pass
    sock.close()
    return answer, sent


def test_a_300_mb_chat_body_is_refused_without_growing_the_process(server):
    token = _token(server)
    pid = server.proc.pid
    before = _rss_mb(pid)
    answers = [_send_chunked(server.port, token, 300 * MB) for _ in range(3)]
    time.sleep(0.5)
    after = _rss_mb(pid)
    for answer, sent in answers:
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert sent < 300 * MB, "the server must stop the upload, not read all of it"
    assert after - before < 64, f"RSS grew from {before:.0f} MB to {after:.0f} MB"

    # A declared length over the limit is answered before any of the body is sent.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {300 * MB}\r\n\r\n").encode())
        answer = b""
        while data := sock.recv(65536):  # the server closes after its answer
            answer += data
    assert answer.startswith(b"HTTP/1.1 413") and b"request_too_large" in answer
