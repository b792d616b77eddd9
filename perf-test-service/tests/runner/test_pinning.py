"""Pinned addresses against a real rebinding name: a DNS server whose answer changed since the claim.

The Locust processes resolve through gevent's c-ares resolver pointed at a DNS server run by the test (a stand-in
for the system's DNS, without touching /etc/hosts or resolv.conf), which answers the forbidden 127.0.0.2 for the
name; the claim saw 127.0.0.1. The load must reach only 127.0.0.1, with the original Host header and TLS name.
"""

from __future__ import annotations

import socket
import ssl
import struct
import subprocess
import threading
from pathlib import Path

import pytest

from perf_test_service.runner.locustfile import generate_locustfile
from perf_test_service.runner.process import run_load
from perf_test_service.scenario import Scenario
from shared.host_policy import HostPolicy
from shared.testing import OkServer, free_port

NAME = "rebind.testfleet.test"
pytestmark = pytest.mark.timeout(120)


class DnsStub:
    """A UDP DNS server answering every A query for NAME with one address (the rebinding answer)."""

    def __init__(self, answer: str):
        self.answer = socket.inet_aton(answer)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                packet, client = self.sock.recvfrom(512)
            except OSError:
                return
            ident, labels, offset = packet[:2], [], 12
            while packet[offset]:
                labels.append(packet[offset + 1 : offset + 1 + packet[offset]].decode())
                offset += packet[offset] + 1
            qtype = struct.unpack(">H", packet[offset + 1 : offset + 3])[0]
            question = packet[12 : offset + 5]
            self.queries.append(".".join(labels))
            found = ".".join(labels) == NAME and qtype == 1
            header = ident + struct.pack(">HHHHH", 0x8180 if found else 0x8183, 1, int(found), 0, 0)
            answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 0, 4) + self.answer if found else b""
            self.sock.sendto(header + question + answer, client)

    def close(self) -> None:
        self.sock.close()


def tls_context(tmp_path: Path) -> ssl.SSLContext:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", f"/CN={NAME}"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def locustfile(tmp_path: Path, host: str) -> Path:
    scenario = Scenario.model_validate(
        {"name": "rebind", "host": host, "requests": [{"path": "/"}], "wait_time_ms": {"min": 20, "max": 40}}
    )
    path = tmp_path / "locustfile.py"
    path.write_text(generate_locustfile(scenario))
    return path


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("pinned", [True, False], ids=["pinned", "unpinned"])
def test_a_name_rebound_after_the_claim_reaches_only_the_pinned_address(tmp_path, scheme, pinned):
    port = free_port()
    tls = tls_context(tmp_path) if scheme == "https" else None
    allowed = OkServer("127.0.0.1", port, tls)
    forbidden = OkServer("127.0.0.2", port, tls_context(tmp_path) if tls else None)
    dns = DnsStub("127.0.0.2")  # the answer Locust would get now
    host = f"{scheme}://{NAME}:{port}"
    # At claim the name resolved to 127.0.0.1 (the policy's resolver stands for that earlier DNS answer).
    policy = HostPolicy.from_setting(
        "*.testfleet.test,127.0.0.1", "PERF_ALLOWED_HOSTS", resolver=lambda _: ["127.0.0.1"]
    )
    addresses = [str(address) for address in policy.check_url(host)]
    assert addresses == ["127.0.0.1"]
    resolver_env = {"GEVENT_RESOLVER": "ares", "GEVENT_RESOLVER_NAMESERVERS": "127.0.0.1",
                    "GEVENTARES_UDP_PORT": str(dns.port)}  # fmt: skip
    try:
        result = run_load(
            locustfile(tmp_path, host), host, {"user_count": 2, "run_time": 2}, tmp_path / "run",
            pinned_addresses=addresses if pinned else None, extra_env=resolver_env,
        )  # fmt: skip
    finally:
        allowed.stop()
        forbidden.stop()
        dns.close()
    hits = allowed.hits + forbidden.hits
    reached = {hit.address for hit in hits}
    if not pinned:  # the setup is real: without the pin, the second answer moves the load
        assert reached == {"127.0.0.2"} and NAME in dns.queries, (reached, dns.queries)
        return
    assert result.outcome == "completed", result.error
    assert result.stats["total"]["requests"] > 0 and result.stats["total"]["failures"] == 0
    assert reached == {"127.0.0.1"}
    assert {hit.host for hit in hits} == {f"{NAME}:{port}"}
    if scheme == "https":
        assert {hit.server_name for hit in hits} == {NAME}
    assert NAME not in dns.queries  # the pinned name is never looked up again
    print(f"FIGURE pinning ({scheme}): {len(hits)} requests, all to 127.0.0.1 while DNS said 127.0.0.2")
