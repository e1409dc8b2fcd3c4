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


def _connector(policy: OutboundPolicy, base_url: str, limit: int) -> aiohttp.TCPConnector:
    guard = ConnectGuard(policy, base_url)
    return aiohttp.TCPConnector(limit=limit, limit_per_host=limit, ttl_dns_cache=300, keepalive_timeout=30,
                                enable_cleanup_closed=True, resolver=GuardedResolver(guard), socket_factory=guard.socket)


def _session(connector: aiohttp.TCPConnector, owner: bool) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=connector, connector_owner=owner, cookie_jar=aiohttp.DummyCookieJar(),
                                 auto_decompress=True, raise_for_status=False, trust_env=False)


def new_session(policy: OutboundPolicy, base_url: str, limit: int = 256) -> aiohttp.ClientSession:
    """A session with its own policy-checked connector: keep-alive, DNS cached, no cookie jar.

    Callers pass allow_redirects=False on every request: aiohttp follows redirects by default.
    """
    return _session(_connector(policy, base_url, limit), owner=True)


def origin_of(base_url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL: what one pool of connections serves."""
    url = urlsplit(base_url)
    scheme = url.scheme.lower()
    return scheme, (url.hostname or "").lower(), url.port or (443 if scheme == "https" else 80)


class ConnectionPools:
    """One policy-checked connector per upstream origin, shared by every provider calling it.

    A thousand tenants whose providers all point at one upstream then share one set of keep-alive
    connections instead of opening their own. Sharing is safe: a connection carries no credentials
    (keys and headers are sent per request by each provider's session), no cookies, and the guard
    is the same for every URL of an origin.
    """

    def __init__(self, policy: OutboundPolicy, limit: int = 1024) -> None:
        self._policy = policy
        self._limit = limit
        self._connectors: dict[tuple[str, str, int], aiohttp.TCPConnector] = {}

    def session(self, base_url: str) -> aiohttp.ClientSession:
        """A session for one provider on its origin's shared connector (closing it keeps the connector)."""
        key = origin_of(base_url)
        connector = self._connectors.get(key)
        if connector is None or connector.closed:
            connector = self._connectors[key] = _connector(self._policy, base_url, self._limit)
        return _session(connector, owner=False)

    def __len__(self) -> int:
        return len(self._connectors)

    async def close(self) -> None:
        """Close every connector (shutdown)."""
        connectors, self._connectors = list(self._connectors.values()), {}
        for connector in connectors:
            await connector.close()
