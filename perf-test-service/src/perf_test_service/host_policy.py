"""Which hosts a load test may target: PERF_ALLOWED_HOSTS, checked on the name and on every resolved address.

Redirects are the other way a run could reach a host nobody allowed: the generated locustfile sends every
request with ``allow_redirects=False`` (see ``REQUEST_OPTIONS``), so a 30x is recorded as a response and never
followed. Custom locustfiles (admin only) are trusted to do the same.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

DEFAULT_ALLOWED_HOSTS = ("127.0.0.1", "localhost", "::1")

# Keyword arguments the generated locustfile passes to every request so a redirect cannot leave the allowed hosts.
REQUEST_OPTIONS = {"allow_redirects": False}

# Cloud metadata endpoints outside link-local space; like link-local they are refused unless listed verbatim.
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address) for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
_LINK_LOCAL_NETWORKS = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Iterable[str]]


class HostNotAllowed(ValueError):
    """The target host is outside PERF_ALLOWED_HOSTS; the message says why."""


def parse_allowed_hosts(value: str | Iterable[str] | None) -> list[str]:
    """Split a comma-separated PERF_ALLOWED_HOSTS value into normalised entries (default: loopback only)."""
    if value is None:
        return list(DEFAULT_ALLOWED_HOSTS)
    items = value.split(",") if isinstance(value, str) else list(value)
    entries = [_normalise_name(item) for item in items if item and item.strip()]
    return entries


def extract_hostname(url_or_host: str) -> str:
    """Return the bare host name or address of a URL, "host:port", "[v6]:port" or plain host."""
    text = url_or_host.strip()
    if "://" not in text:
        # urlsplit only finds the host after "//"; a bare "::1" has colons but no port.
        if _as_address(text) is not None:
            return _normalise_name(text)
        text = "//" + text
    try:
        hostname = urlsplit(text).hostname
    except ValueError as exc:
        raise HostNotAllowed(f"cannot read a host from {url_or_host!r}: {exc}") from None
    if not hostname:
        raise HostNotAllowed(f"cannot read a host from {url_or_host!r}")
    return _normalise_name(hostname)


def check_host(
    url_or_host: str,
    allowed_patterns: str | Iterable[str] | None = None,
    *,
    resolver: Resolver | None = None,
) -> None:
    """Raise HostNotAllowed unless the host and every address it resolves to are allowed."""
    allowed = parse_allowed_hosts(allowed_patterns)
    hostname = extract_hostname(url_or_host)
    literal = _as_address(hostname)
    if literal is not None:
        _check_address(literal, allowed, shown_as=hostname)
        return
    if not any(fnmatchcase(hostname, pattern) for pattern in allowed if _as_network(pattern) is None):
        raise HostNotAllowed(f"host {hostname!r} is not in PERF_ALLOWED_HOSTS ({', '.join(allowed)})")
    resolve = resolver or _resolve
    try:
        addresses = {_unmap(ipaddress.ip_address(address)) for address in resolve(hostname)}
    except (OSError, UnicodeError) as exc:
        raise HostNotAllowed(f"host {hostname!r} does not resolve: {exc}") from None
    if not addresses:
        raise HostNotAllowed(f"host {hostname!r} does not resolve to any address")
    # A name is only as safe as every address it may connect to (DNS rebinding, split-horizon records).
    for address in sorted(addresses, key=str):
        _check_address(address, allowed, shown_as=f"{hostname} -> {address}")


def _check_address(address: IPAddress, allowed: list[str], *, shown_as: str) -> None:
    special = _is_link_local_or_metadata(address)
    for pattern in allowed:
        if _address_matches(address, pattern, wildcards_allowed=not special):
            return
    if special:
        raise HostNotAllowed(
            f"{shown_as} is a link-local or cloud-metadata address; it must be named explicitly in PERF_ALLOWED_HOSTS"
        )
    raise HostNotAllowed(f"address {shown_as} is not in PERF_ALLOWED_HOSTS ({', '.join(allowed)})")


def _address_matches(address: IPAddress, pattern: str, *, wildcards_allowed: bool) -> bool:
    pattern_address = _as_address(pattern)
    if pattern_address is not None:
        return pattern_address == address
    network = _as_network(pattern)
    if network is not None:
        if address.version != network.version or address not in network:
            return False
        # "0.0.0.0/0" must not open link-local space; a network wholly inside it names it explicitly.
        return wildcards_allowed or any(network.subnet_of(special) for special in _special_networks(address))
    return wildcards_allowed and fnmatchcase(str(address), pattern)


def _special_networks(address: IPAddress) -> list:
    return [net for net in _LINK_LOCAL_NETWORKS if net.version == address.version] + [
        ipaddress.ip_network(meta) for meta in _METADATA_ADDRESSES if meta.version == address.version
    ]


def _is_link_local_or_metadata(address: IPAddress) -> bool:
    return address in _METADATA_ADDRESSES or any(
        address.version == network.version and address in network for network in _LINK_LOCAL_NETWORKS
    )


def _resolve(hostname: str) -> list[str]:
    infos = socket.getaddrinfo(hostname, None, proto=socket.IPPROTO_TCP)
    # Drop any IPv6 scope id ("fe80::1%eth0") before parsing.
    return [info[4][0].split("%", 1)[0] for info in infos]


def _normalise_name(name: str) -> str:
    text = name.strip().lower().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    address = _as_address(text)
    return str(address) if address is not None else text


def _as_address(text: str) -> IPAddress | None:
    try:
        return _unmap(ipaddress.ip_address(text.strip("[]").split("%", 1)[0]))
    except ValueError:
        return None


def _as_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _unmap(address: IPAddress) -> IPAddress:
    # ::ffff:169.254.169.254 reaches the IPv4 host, so it is judged as that IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
