"""Which hosts a test may reach: an allow list (names, fnmatch patterns, addresses, CIDRs) over a deny list.

One policy for both kinds of test: WEB_ALLOWED_HOSTS judges every request a browser makes, PERF_ALLOWED_HOSTS
every connection Locust opens. A name is judged by its own pattern and by every address it resolves to, and
the caller connects only to the addresses returned here (pinning), so a second DNS answer cannot move a run.

Three kinds of address are refused unless an allow entry names them (the address itself, or a network that
lies wholly inside theirs); a wildcard ("*", "0.0.0.0/0") never admits them:
- loopback and unspecified addresses (0.0.0.0 connects to this machine),
- link-local addresses and the cloud metadata endpoints,
- any of these embedded in an IPv6 address (mapped, compatible, NAT64, 6to4, Teredo), judged as the IPv4 one.
The platform's own endpoints (Redis, the database, the APIs, the gateway, Flower) are refused whatever the
allow list says: a test has no business with them, and naming 127.0.0.1 must not open Redis.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cached_property
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], Iterable[str]]

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# Cloud metadata endpoints outside link-local space; like link-local they are refused unless named.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address) for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
_GUARDED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(net)
    for net in ("127.0.0.0/8", "0.0.0.0/32", "::1/128", "::/128", "169.254.0.0/16", "fe80::/10")
)
# RFC 6052's well-known NAT64 prefix: 64:ff9b::a.b.c.d is a.b.c.d behind a NAT64 gateway.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
# RFC 4291's deprecated IPv4-compatible form ::a.b.c.d (:: and ::1 are themselves, not IPv4).
_COMPATIBLE = ipaddress.ip_network("::/96")


class HostNotAllowed(ValueError):
    """The target is outside the policy; the message says which entry or rule refused it."""


class HostUnresolved(HostNotAllowed):
    """The target's name has no address: refused like any other, but a browser's proxy reports it as unreachable."""


@dataclass(frozen=True)
class Target:
    """Where a URL points: its host as written (lower-case, no brackets) and its port."""

    host: str
    port: int


@dataclass(frozen=True)
class HostPolicy:
    """An allow list, the platform's own endpoints, and the name of the setting for messages."""

    allowed: tuple[str, ...]
    setting: str
    internal: tuple[Target, ...] = ()
    resolver: Resolver | None = field(default=None, compare=False)

    @classmethod
    def from_setting(
        cls, value: str | Iterable[str], setting: str, internal: Iterable[Target] = (), resolver: Resolver | None = None
    ) -> HostPolicy:
        return cls(tuple(parse_allowed_hosts(value)), setting, tuple(internal), resolver)

    def check_url(self, url: str, default_port: int = 80) -> list[IPAddress]:
        """The addresses a connection to url may use; HostNotAllowed if the host or any of them is refused."""
        target = parse_target(url, default_port)
        return self.check(target.host, target.port)

    def check(self, host: str, port: int) -> list[IPAddress]:
        """Judge host (a name or an address) on port; return every address it may connect to, sorted."""
        literal = as_address(host)
        if literal is not None:
            self._check_address(literal, port, shown_as=host)
            return [literal]
        self.check_name(host)
        addresses = self._resolve(host)
        # A name is only as safe as every address it may connect to (DNS rebinding, split-horizon records).
        for address in addresses:
            self._check_address(address, port, shown_as=f"{host} -> {address}")
        return addresses

    def check_name(self, host: str) -> None:
        """Refuse a name no allow entry matches, without resolving it (a literal target at save time)."""
        if not any(fnmatchcase(host, pattern) for pattern in self.allowed if _as_network(pattern) is None):
            raise HostNotAllowed(f"host {host!r} is not in {self.setting} ({', '.join(self.allowed)})")

    def _resolve(self, host: str) -> list[IPAddress]:
        try:
            found = {ipaddress.ip_address(address) for address in (self.resolver or resolve)(host)}
        except (OSError, UnicodeError, ValueError) as exc:
            raise HostUnresolved(f"host {host!r} does not resolve: {exc}") from None
        if not found:
            raise HostUnresolved(f"host {host!r} does not resolve to any address")
        return sorted(found, key=lambda address: (address.version, int(address)))

    def _check_address(self, address: IPAddress, port: int, *, shown_as: str) -> None:
        if self._is_internal(address, port):
            raise HostNotAllowed(
                f"{shown_as} port {port} is one of the platform's own endpoints; tests may not reach it"
            )
        for candidate in _judged_as(address):
            self._check_one(candidate, shown_as=shown_as if candidate == address else f"{shown_as} (= {candidate})")

    def _check_one(self, address: IPAddress, *, shown_as: str) -> None:
        guarded = is_guarded(address)
        if any(_address_matches(address, pattern, wildcards_allowed=not guarded) for pattern in self.allowed):
            return
        if guarded:
            raise HostNotAllowed(
                f"{shown_as} is a loopback, link-local or cloud-metadata address; it must be named explicitly in "
                f"{self.setting}"
            )
        raise HostNotAllowed(f"address {shown_as} is not in {self.setting} ({', '.join(self.allowed)})")

    @cached_property
    def _internal_addresses(self) -> tuple[tuple[int, frozenset[IPAddress]], ...]:
        """(port, the addresses it answers on) of each platform endpoint, resolved once per policy, not per request."""
        found = []
        for endpoint in self.internal:
            literal = as_address(endpoint.host)
            try:
                addresses = [literal] if literal is not None else self._resolve(endpoint.host)
            except HostNotAllowed:
                continue  # an endpoint that does not resolve here cannot be reached through it either
            found.append((endpoint.port, frozenset(a for address in addresses for a in _judged_as(address))))
        return tuple(found)

    def _is_internal(self, address: IPAddress, port: int) -> bool:
        judged = set(_judged_as(address))
        return any(
            port == internal_port and (judged & addresses or _both_this_machine(judged, set(addresses)))
            for internal_port, addresses in self._internal_addresses
        )


def parse_allowed_hosts(value: str | Iterable[str]) -> list[str]:
    """Split a comma-separated allow list into normalised entries."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return [normalise_host(item) for item in items if item and item.strip()]


def parse_target(url_or_host: str, default_port: int = 80) -> Target:
    """Host and port of a URL, "host:port", "[v6]:port" or a plain host."""
    text = url_or_host.strip()
    if "://" not in text:
        # urlsplit only finds the host after "//"; a bare "::1" has colons but no port.
        if as_address(text) is not None:
            return Target(normalise_host(text), default_port)
        text = "//" + text
    try:
        parts = urlsplit(text)
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:
        raise HostNotAllowed(f"cannot read a host from {url_or_host!r}: {exc}") from None
    if not hostname:
        raise HostNotAllowed(f"cannot read a host from {url_or_host!r}")
    return Target(normalise_host(hostname), port or DEFAULT_PORTS.get(parts.scheme, default_port))


def endpoints_of_urls(urls: Iterable[str | None]) -> list[Target]:
    """Host and port of each URL given (redis://, postgresql://, http://); unset or unreadable ones are skipped."""
    found = []
    for url in urls:
        if not url or "://" not in url:
            continue
        try:
            parts = urlsplit(url)
            port = parts.port or _scheme_port(parts.scheme)
        except ValueError:
            continue
        if parts.hostname and port:
            found.append(Target(normalise_host(parts.hostname), port))
    return found


def internal_endpoints(settings) -> list[Target]:
    """The platform's own endpoints from a service's settings: Redis, the database, PLATFORM_ENDPOINTS."""
    extra = [parse_target(item) for item in settings.platform_endpoints.split(",") if item.strip()]
    return endpoints_of_urls([settings.redis_url, settings.database_url]) + extra


def _scheme_port(scheme: str) -> int | None:
    base = scheme.split("+", 1)[0]
    return {"redis": 6379, "rediss": 6379, "postgresql": 5432, "postgres": 5432, **DEFAULT_PORTS}.get(base)


def embedded_ipv4(address: IPAddress) -> list[IPAddress]:
    """The IPv4 addresses an IPv6 address reaches (mapped, compatible, NAT64, 6to4, Teredo); [] for none."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    found: list[IPAddress] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    elif address.sixtofour is not None:
        found.append(address.sixtofour)
    elif address.teredo is not None:
        found.extend(address.teredo)  # (server, client): both are IPv4 hosts the packets go to
    elif address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    elif address in _NAT64_LOCAL:
        # RFC 6052 with a /48 prefix: 16 bits of IPv4 in bits 48-63, the reserved octet, the other 16 in 72-87.
        value = int(address)
        found.append(ipaddress.IPv4Address(((value >> 64) & 0xFFFF) << 16 | (value >> 40) & 0xFFFF))
    return found


def _judged_as(address: IPAddress) -> list[IPAddress]:
    """The addresses a policy judges for address: the IPv4 ones it embeds, else itself."""
    return embedded_ipv4(address) or [address]


def is_guarded(address: IPAddress) -> bool:
    """Loopback, unspecified, link-local or metadata: admitted only when named."""
    return address in METADATA_ADDRESSES or any(
        address.version == network.version and address in network for network in _GUARDED_NETWORKS
    )


def resolve(hostname: str) -> list[str]:
    """Every address the system resolver gives for hostname (TCP)."""
    infos = socket.getaddrinfo(hostname, None, proto=socket.IPPROTO_TCP)
    # Drop any IPv6 scope id ("fe80::1%eth0") before parsing.
    return [str(info[4][0]).split("%", 1)[0] for info in infos]


def normalise_host(name: str) -> str:
    """Lower-case, no trailing dot, no brackets; addresses in their canonical form."""
    text = name.strip().lower().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    address = as_address(text)
    return str(address) if address is not None else text


def as_address(text: str) -> IPAddress | None:
    """text as an IP address (brackets and scope id dropped), or None for a name."""
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _as_network(text: str) -> IPNetwork | None:
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _address_matches(address: IPAddress, pattern: str, *, wildcards_allowed: bool) -> bool:
    pattern_address = as_address(pattern)
    if pattern_address is not None:
        return address in (pattern_address, *embedded_ipv4(pattern_address))
    network = _as_network(pattern)
    if network is not None:
        if address.version != network.version or address not in network:
            return False
        # "0.0.0.0/0" must not open loopback or link-local space; a network wholly inside one names it.
        return wildcards_allowed or any(
            network.version == guarded.version and network.subnet_of(guarded)  # type: ignore[arg-type]
            for guarded in (*_GUARDED_NETWORKS, *(ipaddress.ip_network(meta) for meta in METADATA_ADDRESSES))
        )
    return wildcards_allowed and fnmatchcase(str(address), pattern)


def _both_this_machine(first: set[IPAddress], second: set[IPAddress]) -> bool:
    # A service bound to 0.0.0.0 or 127.0.0.1 answers on every loopback address of this machine.
    def local(addresses: set[IPAddress]) -> bool:
        return any(address.is_loopback or address.is_unspecified for address in addresses)

    return local(first) and local(second)
