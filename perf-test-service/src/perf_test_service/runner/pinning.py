"""Pinned name resolution inside a Locust process: the target host resolves only to the addresses the policy
passed at claim, and nothing else resolves at all.

Loaded by path from ``locust_entry`` (before the locustfile is imported) and copied verbatim into the
locustfile the master serves to external workers (``locust --worker -f -``), so it imports only the standard
library and gevent. Every lookup in a gevent-patched process (``socket.getaddrinfo``, geventhttpclient's
``gevent.socket.getaddrinfo``, a socket's ``connect((name, port))``) goes through the hub's resolver, which
this replaces: a second DNS answer can no longer move the load, while the client still sends the original
``Host`` header and TLS server name, since only the address lookup changes.

This binds the generated (declarative) locustfiles completely. A raw locustfile is arbitrary Python and
could undo it or open raw sockets; what holds those is the network layer (docs/security.md).
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

PIN_REFUSED = "TestFleet pins this run to the addresses its host policy passed"


class PinnedResolver:
    """A gevent resolver that answers only for the pinned host (and its own addresses) with the pinned addresses."""

    def __init__(self, host: str, port: int, addresses: list[str]):
        self.host = _normalise(host)
        self.port = int(port)
        self.addresses = [ipaddress.ip_address(address) for address in addresses]

    def _pinned_for(self, host, port) -> list:
        name = _normalise(host if isinstance(host, str) else (host or b"").decode("idna", "replace"))
        literal = _as_address(name)
        allowed = (name == self.host) or (literal is not None and literal in self.addresses)
        if not allowed:
            raise socket.gaierror(socket.EAI_NONAME, f"{host!r} refused: {PIN_REFUSED} ({self.host} only)")
        if port not in (None, "", 0) and str(port).isdigit() and int(port) != self.port:
            raise socket.gaierror(socket.EAI_SERVICE, f"port {port} refused: {PIN_REFUSED} (port {self.port} only)")
        return self.addresses if literal is None else [literal]

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, _flags=0):  # gevent passes them by position
        """The pinned addresses as getaddrinfo entries, filtered by family; gaierror for anything else."""
        addresses = self._pinned_for(host, port)
        number = int(port) if str(port or "").isdigit() else self.port
        kinds = [type] if type else [socket.SOCK_STREAM]
        entries = []
        for address in addresses:
            address_family = socket.AF_INET if address.version == 4 else socket.AF_INET6
            if family not in (0, socket.AF_UNSPEC, address_family):
                continue
            sockaddr = (str(address), number) if address.version == 4 else (str(address), number, 0, 0)
            entries += [(address_family, kind, proto or socket.IPPROTO_TCP, "", sockaddr) for kind in kinds]
        if not entries:
            raise socket.gaierror(socket.EAI_ADDRFAMILY, f"{host!r}: no pinned address of family {family}")
        return entries

    def gethostbyname(self, hostname, family=socket.AF_INET):
        return self.getaddrinfo(hostname, None, family)[0][4][0]

    def gethostbyname_ex(self, hostname, family=socket.AF_INET):
        addresses = [entry[4][0] for entry in self.getaddrinfo(hostname, None, family)]
        return hostname, [], addresses

    def gethostbyaddr(self, ip_address):
        raise socket.herror(1, f"reverse lookup of {ip_address!r} refused: {PIN_REFUSED}")

    def getnameinfo(self, sockaddr, _flags):
        self._pinned_for(sockaddr[0], None)
        return str(sockaddr[0]), str(sockaddr[1])

    def close(self) -> None:
        """Nothing to release (gevent calls this when the hub is destroyed)."""


def install(pins: dict | None) -> PinnedResolver | None:
    """Replace the gevent hub's resolver with one pinned to pins = {host, port, addresses}; None leaves it."""
    if not pins:
        return None
    import gevent

    resolver = PinnedResolver(pins["host"], pins["port"], list(pins["addresses"]))
    gevent.get_hub().resolver = resolver
    return resolver


def _normalise(name: str) -> str:
    text = name.strip().lower().rstrip(".")
    return text[1:-1] if text.startswith("[") and text.endswith("]") else text


def _as_address(text: str):
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def serve(locustfile: str, pins: dict | None, folder: Path) -> str:
    """Write the locustfile a master serves to `locust --worker -f -` (this module, the pins, then the user's
    code) into folder; return its path."""
    own_source = Path(__file__).read_text(encoding="utf-8")
    user_source = Path(locustfile).read_text(encoding="utf-8")
    served = (
        f"{own_source}\n\ninstall({pins!r})\n"
        # Compiled under its own name, so tracebacks point into the user's file.
        f"exec(compile({user_source!r}, 'locustfile.py', 'exec'), globals())\n"
    )
    folder.mkdir(exist_ok=True)
    (folder / "locustfile.py").write_text(served, encoding="utf-8")
    return str(folder / "locustfile.py")
