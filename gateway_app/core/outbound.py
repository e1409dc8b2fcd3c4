"""The outbound policy: which addresses provider calls may connect to (the SSRF defence).

Pure and synchronous. The aiohttp connector (providers/guard.py) asks it about every address it
is about to connect to, after DNS; the provider service asks it about literal addresses when a
base_url is saved, for quick feedback. Three levels of refusal:

- never: unspecified, multicast and broadcast addresses, and the gateway's own listeners;
- listed: link-local and cloud-metadata addresses, allowed only by a PROVIDER_ALLOWED_HOSTS entry;
- private: loopback, private, shared and reserved ranges, allowed by ALLOW_PRIVATE_UPSTREAMS too.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NEVER, LISTED, PRIVATE = "never", "listed", "private"
# Metadata services outside 169.254/16 (AWS over IPv6, Alibaba) and the ECS task endpoint.
METADATA = frozenset(ipaddress.ip_address(a) for a in
                     ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200"))
BROADCAST = ipaddress.IPv4Address("255.255.255.255")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
WILDCARD = ("", "0.0.0.0", "::")
_HOSTNAME = re.compile(r"(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*")
_NUMERIC = re.compile(r"[0-9a-fx.]+")


def parse_ip(text: str) -> Address:
    """An address from text, without any IPv6 zone (%eth0); raises ValueError."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def embedded_ipv4(ip: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, 6to4, NAT64, IPv4-compatible), if any."""
    if ip.version == 4:
        return None
    assert isinstance(ip, ipaddress.IPv6Address)
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64 or (int(ip) >> 32 == 0 and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify(ip: Address) -> tuple[str, str] | None:
    """(what the address is, refusal level), or None for a public unicast address."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        return classify(inner)
    if ip.is_unspecified:
        return "an unspecified address", NEVER
    if ip.is_multicast:
        return "a multicast address", NEVER
    if ip == BROADCAST:
        return "the broadcast address", NEVER
    if ip in METADATA:
        return "a cloud metadata address", LISTED
    if ip.is_link_local:
        return "a link-local address", LISTED
    if ip.is_loopback:
        return "a loopback address", PRIVATE
    if ip.is_reserved:
        return "a reserved address", PRIVATE
    if ip.is_private:
        return "a private address", PRIVATE
    if not ip.is_global:
        return "a reserved address", PRIVATE
    return None


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return int(text)


def split_host_port(entry: str) -> tuple[str, int | None]:
    """'host', 'host:port', 'ip', 'cidr', '[ipv6]:port' or a bare IPv6 address/CIDR -> (host, port)."""
    if entry.startswith("["):
        close = entry.find("]")
        rest = entry[close + 1:] if close > 0 else "?"
        if rest and not rest.startswith(":"):
            raise ValueError(f"{entry!r}: write IPv6 with a port as [address]:port")
        return entry[1:close], _port(rest[1:], entry) if rest else None
    if entry.count(":") == 1:
        host, port = entry.rsplit(":", 1)
        return host, _port(port, entry)
    return entry, None


@dataclass(frozen=True, slots=True)
class AllowRule:
    """One PROVIDER_ALLOWED_HOSTS entry: a network or a host name, on one port or all."""

    text: str
    network: Network | None = None
    name: str | None = None
    port: int | None = None

    def matches_ip(self, ip: Address, port: int) -> bool:
        """True when this rule allows the address and port."""
        return self.network is not None and (self.port is None or self.port == port) and ip in self.network

    def matches_name(self, host: str, port: int) -> bool:
        """True when this rule names the host (lower case, no trailing dot) and allows the port."""
        return self.name is not None and self.name == host and (self.port is None or self.port == port)


def parse_allow_rule(entry: str) -> AllowRule:
    """One entry; raises ValueError naming it."""
    host, port = split_host_port(entry)
    try:
        return AllowRule(entry, network=ipaddress.ip_network(host.split("%", 1)[0], strict=False), port=port)
    except ValueError:
        pass
    name = host.lower().rstrip(".")
    if not _HOSTNAME.fullmatch(name) or re.fullmatch(r"[0-9.]+", name):
        raise ValueError(f"{entry!r} is not a host name, IP address or CIDR (optionally with :port)")
    return AllowRule(entry, name=name, port=port)


def parse_allow_list(text: str) -> tuple[AllowRule, ...]:
    """PROVIDER_ALLOWED_HOSTS: comma-separated entries."""
    return tuple(parse_allow_rule(e.strip()) for e in text.split(",") if e.strip())


@dataclass(frozen=True, slots=True)
class Listener:
    """An address and port the gateway itself serves on."""

    network: Network
    port: int


def _local_addresses() -> set[str]:
    try:
        return {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    except OSError:
        return set()


def parse_listeners(text: str) -> tuple[Listener, ...]:
    """GATEWAY_LISTENERS ('host:port' entries set by serve / serve-api), expanded to the addresses that reach them."""
    listeners: list[Listener] = []
    for entry in (e.strip() for e in text.split(",") if e.strip()):
        host, port = split_host_port(entry)
        if port is None:
            raise ValueError(f"{entry!r}: a listener needs a port")
        networks: list[Network] = []
        if host in WILDCARD or host == "localhost":
            networks += LOOPBACK
        if host in WILDCARD:
            networks += [ipaddress.ip_network(a) for a in ("0.0.0.0/32", "::/128")]
            networks += [ipaddress.ip_network(a.split("%", 1)[0]) for a in _local_addresses()]
        elif host != "localhost":
            try:
                ip = parse_ip(host)
                networks += LOOPBACK if ip.is_loopback else [ipaddress.ip_network(ip)]
            except ValueError:
                raise ValueError(f"{entry!r}: a listener host is an IP address, localhost or 0.0.0.0") from None
        listeners += [Listener(network, port) for network in networks]
    return tuple(listeners)


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a connection was refused, in words an admin can act on."""

    address: str
    port: int
    what: str  # e.g. "a loopback address"
    level: str

    def describe(self, host: str | None = None) -> str:
        """The rule that refused it and how to allow it (for operators and tenant admins, not API clients)."""
        named = host and host.strip("[]") != self.address
        subject = f"{host} resolves to {self.what}" if named else f"{self.address} is {self.what}"
        entry = f"{host}:{self.port}" if named else (
            f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}")
        if self.what == "the gateway's own listener":
            advice = "a gateway calling itself would loop, so this is never allowed"
        elif self.level == NEVER:
            advice = "the gateway never connects to such addresses"
        elif self.level == LISTED:
            advice = f"an operator can allow it by adding {entry} to PROVIDER_ALLOWED_HOSTS"
        else:
            advice = (f"an operator can allow it with ALLOW_PRIVATE_UPSTREAMS=true, or allow just this address "
                      f"by adding {entry} to PROVIDER_ALLOWED_HOSTS")
        return f"the provider's address is not allowed: {subject} (port {self.port}); {advice}"


class BlockedAddress(OSError):
    """Raised where a connection would be made to a refused address (an OSError, as connectors expect)."""

    def __init__(self, denial: Denial, host: str | None = None) -> None:
        self.denial = denial
        self.description = denial.describe(host)
        super().__init__(errno.EACCES, self.description)


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Built once from settings (build_platform) and handed to whoever builds provider clients."""

    allow_private: bool = False
    allowed: tuple[AllowRule, ...] = ()
    listeners: tuple[Listener, ...] = ()

    @classmethod
    def from_config(cls, allow_private: bool, allowed_hosts: str, listeners: str) -> OutboundPolicy:
        """From ALLOW_PRIVATE_UPSTREAMS, PROVIDER_ALLOWED_HOSTS and GATEWAY_LISTENERS."""
        return cls(allow_private, parse_allow_list(allowed_hosts), parse_listeners(listeners))

    def host_allowed(self, host: str, port: int) -> bool:
        """True when a PROVIDER_ALLOWED_HOSTS entry names this host (the URL's, before DNS)."""
        host = host.lower().rstrip(".")
        return any(rule.matches_name(host, port) for rule in self.allowed if rule.name)

    def check(self, address: str, port: int, *, host_allowed: bool = False) -> Denial | None:
        """None when a connection to address:port may be made; else why not."""
        ip = parse_ip(address)
        inner = embedded_ipv4(ip)
        forms = (ip,) if inner is None else (ip, inner)
        for listener in self.listeners:
            if listener.port == port and any(form in listener.network for form in forms):
                return Denial(address, port, "the gateway's own listener", NEVER)
        found = classify(ip)
        if found is None:
            return None
        what, level = found
        if level == NEVER:
            return Denial(address, port, what, level)
        if host_allowed or any(rule.matches_ip(form, port) for rule in self.allowed for form in forms):
            return None
        if level == PRIVATE and self.allow_private:
            return None
        return Denial(address, port, what, level)

    def check_url(self, url: str) -> str | None:
        """At save time: why a base_url whose host is a literal address or localhost would be refused, else None."""
        # Other host names are resolved only when connecting: that check is the authoritative one.
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        literal = literal_address(host)
        if literal is None and (host == "localhost" or host.endswith(".localhost")):
            literal = "127.0.0.1"
        if literal is None:
            return None
        denial = self.check(literal, port, host_allowed=self.host_allowed(host, port))
        # Name the host only for localhost names; numeric forms are shown as the address they mean.
        return denial.describe(None if literal_address(host) else host) if denial else None


def literal_address(host: str) -> str | None:
    """The address a literal host stands for, including legacy numeric IPv4 forms (2130706433, 0x7f.1)."""
    try:
        return str(parse_ip(host))
    except ValueError:
        pass
    if _NUMERIC.fullmatch(host.lower()):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None
