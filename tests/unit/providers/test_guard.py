"""The guarded aiohttp session against real loopback servers: where the connection is refused, and how."""

import socket

import aiohttp
import pytest

from gateway_app.core.outbound import BlockedAddress, OutboundPolicy
from gateway_app.providers.guard import ConnectGuard, new_session
from gateway_app.providers.http import transport_error
from tests.support.hostile import MetadataServer


@pytest.fixture(scope="module")
def metadata():
    server = MetadataServer().start()
    yield server
    server.stop()


async def fetch(policy: OutboundPolicy, url: str) -> aiohttp.ClientResponse | BaseException:
    session = new_session(policy, url)
    try:
        async with session.get(url, allow_redirects=False) as response:
            await response.read()
            return response
    except aiohttp.ClientError as exc:
        return exc
    finally:
        await session.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
async def test_loopback_is_refused_before_any_connection(metadata, host):
    metadata.reset()
    outcome = await fetch(OutboundPolicy(), f"http://{host}:{metadata.port}/v1/models")
    assert isinstance(outcome, aiohttp.ClientConnectorError), outcome
    assert isinstance(outcome.os_error, BlockedAddress)
    error = transport_error(outcome)
    assert error.kind == "blocked" and not error.retryable and "loopback" in error.message
    assert metadata.requests == []


async def test_allowed_port_name_and_private_switch_connect(metadata):
    metadata.reset()
    url = f"http://127.0.0.1:{metadata.port}/v1/models"
    for policy in (OutboundPolicy.from_config(False, f"127.0.0.1:{metadata.port}", ""),
                   OutboundPolicy(allow_private=True)):
        outcome = await fetch(policy, url)
        assert isinstance(outcome, aiohttp.ClientResponse) and outcome.status == 200, outcome
    by_name = OutboundPolicy.from_config(False, f"localhost:{metadata.port}", "")
    outcome = await fetch(by_name, f"http://localhost:{metadata.port}/v1/models")
    assert isinstance(outcome, aiohttp.ClientResponse), "an allowed name may resolve to a private address"
    assert len(metadata.requests) == 3


async def test_own_listener_is_refused_even_when_allowed(metadata):
    policy = OutboundPolicy.from_config(True, f"127.0.0.1:{metadata.port}", f"127.0.0.1:{metadata.port}")
    outcome = await fetch(policy, f"http://127.0.0.1:{metadata.port}/")
    assert isinstance(outcome, aiohttp.ClientConnectorError) and "own listener" in str(outcome.os_error)


def test_the_socket_factory_is_the_last_check():
    # aiohttp skips the resolver for IP literals: the socket factory sees every address connected to.
    guard = ConnectGuard(OutboundPolicy(), "http://example.com/v1")
    with pytest.raises(BlockedAddress):
        guard.socket((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("169.254.169.254", 80)))
    with pytest.raises(BlockedAddress):
        guard.socket((socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("::1", 80, 0, 0)))
    sock = guard.socket((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("93.184.215.14", 80)))
    sock.close()
