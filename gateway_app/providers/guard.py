"""aiohttp sessions that connect only where the outbound policy allows, checked on every new connection.

The choke point is the connector's `socket_factory`: aiohttp (via aiohappyeyeballs) calls it with
the address it is about to connect to, after DNS, for IP-literal hosts too (those skip the
resolver). The resolver filter in front of it only makes the failure clear when a name resolves
to nothing but refused addresses, and keeps refused addresses out of happy-eyeballs races.
Keep-alive connections are reused, so the check costs per connection, not per request.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from gateway_app.core.outbound import BlockedAddress, Denial, OutboundPolicy


class ConnectGuard:
    """The policy for one session, whose requests all go to one base URL."""

    def __init__(self, policy: OutboundPolicy, base_url: str) -> None:
        url = urlsplit(base_url)
        self.policy = policy
        self.host = url.hostname or ""
        port = url.port or (443 if url.scheme == "https" else 80)
        # A host name on the allow-list may resolve to private addresses; checked before DNS, on the URL.
        self.host_allowed = policy.host_allowed(self.host, port)

    def check(self, address: str, port: int) -> Denial | None:
        """Why address:port is refused for this session, or None."""
        return self.policy.check(address, port, host_allowed=self.host_allowed)

    def socket(self, addr_info) -> socket.socket:
        """aiohttp's socket_factory: a socket for an allowed address, BlockedAddress for any other."""
        family, type_, proto, _, sockaddr = addr_info
        denial = self.check(sockaddr[0], sockaddr[1])
        if denial is not None:
            raise BlockedAddress(denial, self.host)
        return socket.socket(family=family, type=type_, proto=proto)


class GuardedResolver(AbstractResolver):
    """The default resolver, without the addresses the session may not connect to."""

    def __init__(self, guard: ConnectGuard) -> None:
        self._guard = guard
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed, refused = [], None
        for result in results:
            denial = self._guard.check(result["host"], result["port"])
            if denial is None:
                allowed.append(result)
            elif refused is None:
                refused = denial
        if not allowed and refused is not None:
            raise BlockedAddress(refused, host)
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def new_session(policy: OutboundPolicy, base_url: str, limit: int = 256) -> aiohttp.ClientSession:
    """One long-lived session per provider: keep-alive, DNS cached, no cookie jar, policy-checked connections.

    Callers pass allow_redirects=False on every request: aiohttp follows redirects by default.
    """
    guard = ConnectGuard(policy, base_url)
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, ttl_dns_cache=300, keepalive_timeout=30,
                                     enable_cleanup_closed=True, resolver=GuardedResolver(guard),
                                     socket_factory=guard.socket)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                 auto_decompress=True, raise_for_status=False, trust_env=False)
