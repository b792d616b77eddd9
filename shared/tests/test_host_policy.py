"""Host policy: allowed names and patterns, every resolved address checked and returned for pinning; loopback,
link-local, metadata and their IPv6 spellings only where named; the platform's own endpoints never."""

from __future__ import annotations

import ipaddress

import pytest

from shared.host_policy import (
    HostNotAllowed,
    HostPolicy,
    Target,
    embedded_ipv4,
    endpoints_of_urls,
    parse_allowed_hosts,
    parse_target,
)

LOOPBACK = "127.0.0.1,localhost,::1"


def check_host(url, allowed=LOOPBACK, *, resolver=None, internal=()):
    """Judge url as a perf run would; return the addresses it may connect to."""
    return HostPolicy.from_setting(allowed, "PERF_ALLOWED_HOSTS", internal, resolver).check_url(url)


def resolver(table: dict[str, list[str]]):
    """Return a fake resolver answering from table (so tests need no DNS)."""

    def resolve(name: str) -> list[str]:
        if name not in table:
            raise OSError(f"[Errno -2] Name or service not known: {name}")
        return table[name]

    return resolve


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("http://127.0.0.1:8080/path", "127.0.0.1"),
        ("https://LocalHost.:443", "localhost"),
        ("http://[::1]:8000", "::1"),
        ("[::1]:8000", "::1"),
        ("::1", "::1"),
        ("localhost:5000", "localhost"),
        ("api.example.com", "api.example.com"),
        ("http://[::FFFF:127.0.0.1]:80", "::ffff:7f00:1"),
    ],
)
def test_parse_target_host(value, host):
    assert parse_target(value).host == host


def test_loopback_list_admits_only_loopback():
    for url in ("http://127.0.0.1:8000", "http://[::1]:8000", "http://localhost:8000", "127.0.0.1"):
        check_host(url)  # real resolution of "localhost"
    for url in ("http://10.0.0.5", "http://example.com", "http://0.0.0.0:80"):
        with pytest.raises(HostNotAllowed):
            check_host(url)


def test_parse_allowed_hosts_splits_and_normalises():
    assert parse_allowed_hosts(" Api.Example.com , *.svc.local.,10.0.0.0/8,,[::1]") == [
        "api.example.com",
        "*.svc.local",
        "10.0.0.0/8",
        "::1",
    ]


def test_name_must_match_an_entry_or_pattern():
    resolve = resolver({"api.test.local": ["10.1.2.3"], "other.local": ["10.1.2.4"]})
    allowed = "*.test.local,10.0.0.0/8"

    check_host("http://api.test.local:8080", allowed, resolver=resolve)
    with pytest.raises(HostNotAllowed, match=r"'other\.local' is not in PERF_ALLOWED_HOSTS"):
        check_host("http://other.local", allowed, resolver=resolve)


def test_every_resolved_address_must_be_allowed():
    resolve = resolver({"mixed.test.local": ["10.1.2.3", "192.168.1.9"]})

    with pytest.raises(HostNotAllowed, match=r"mixed\.test\.local -> 192\.168\.1\.9"):
        check_host("mixed.test.local", "*.test.local,10.0.0.0/8", resolver=resolve)
    check_host("mixed.test.local", "*.test.local,10.0.0.0/8,192.168.1.9", resolver=resolve)


def test_name_resolving_to_private_address_is_refused_unless_allowed():
    resolve = resolver({"intranet.example": ["172.16.0.10"]})

    with pytest.raises(HostNotAllowed, match=r"172\.16\.0\.10 is not in PERF_ALLOWED_HOSTS"):
        check_host("http://intranet.example", "intranet.example", resolver=resolve)
    check_host("http://intranet.example", "intranet.example,172.16.0.0/12", resolver=resolve)


def test_name_resolving_to_metadata_address_is_refused_even_with_wildcards():
    resolve = resolver({"metadata.attacker.example": ["169.254.169.254"]})

    with pytest.raises(HostNotAllowed, match="loopback, link-local or cloud-metadata"):
        check_host("http://metadata.attacker.example", "*", resolver=resolve)
    with pytest.raises(HostNotAllowed, match="loopback, link-local or cloud-metadata"):
        check_host("http://metadata.attacker.example", "*,169.254.*,0.0.0.0/0", resolver=resolve)


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest", "http://[fe80::1]:80", "http://169.254.10.1"])
def test_link_local_literals_need_an_explicit_entry(url):
    with pytest.raises(HostNotAllowed, match="must be named explicitly"):
        check_host(url, "*")
    address = parse_target(url).host
    check_host(url, [address])


def test_link_local_network_entry_counts_as_explicit():
    check_host("http://169.254.10.1", "169.254.0.0/16")


def test_ipv4_mapped_ipv6_is_judged_as_ipv4():
    with pytest.raises(HostNotAllowed, match="link-local"):
        check_host("http://[::ffff:169.254.169.254]/", "*")
    check_host("http://[::ffff:127.0.0.1]:8000")
    resolve = resolver({"sneaky.local": ["::ffff:10.0.0.1"]})
    with pytest.raises(HostNotAllowed, match=r"10\.0\.0\.1"):
        check_host("sneaky.local", "sneaky.local", resolver=resolve)


def test_unresolvable_name_is_refused():
    with pytest.raises(HostNotAllowed, match="does not resolve"):
        check_host("http://nowhere.test.local", "*.test.local", resolver=resolver({}))


def test_cloud_metadata_outside_link_local_needs_explicit_entry():
    with pytest.raises(HostNotAllowed, match="cloud-metadata"):
        check_host("http://[fd00:ec2::254]/", "*")
    check_host("http://[fd00:ec2::254]/", "fd00:ec2::254")


def test_unparseable_host_is_refused():
    with pytest.raises(HostNotAllowed):
        check_host("http://[not-an-ip/")


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 well-known prefix
        "64:ff9b:1:a9fe:a9:fe00::",  # NAT64 local-use prefix (RFC 8215), IPv4 in bits 48-79
        "2002:a9fe:a9fe::",  # 6to4
        "::a9fe:a9fe",  # IPv4-compatible
        "::ffff:a9fe:a9fe",  # IPv4-mapped
        "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo whose client is 169.254.169.254 (obfuscated)
    ],
)
def test_every_ipv4_in_ipv6_spelling_of_metadata_is_refused_by_allow_all(address):
    assert "169.254.169.254" in {str(v4) for v4 in embedded_ipv4(ipaddress.ip_address(address))}
    with pytest.raises(HostNotAllowed, match=r"169\.254\.169\.254"):
        check_host(f"http://[{address}]/", "*,::/0,0.0.0.0/0")


@pytest.mark.parametrize("allow_all", ["*", "0.0.0.0/0", "*,0.0.0.0/0,::/0"])
@pytest.mark.parametrize("url", ["http://127.0.0.1:6000", "http://127.9.9.9", "http://[::1]:80", "http://0.0.0.0:80",
                                 "http://[::]:80", "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/"])  # fmt: skip
def test_allow_all_never_admits_loopback(allow_all, url):
    with pytest.raises(HostNotAllowed, match="must be named explicitly"):
        check_host(url, allow_all)


def test_named_loopback_is_admitted_and_a_wildcard_name_still_needs_the_address():
    check_host("http://127.0.0.1:8000", "*,127.0.0.1")
    check_host("http://127.0.0.5:8000", "*,127.0.0.0/8")
    resolve = resolver({"localhost": ["127.0.0.1"]})
    with pytest.raises(HostNotAllowed, match="must be named explicitly"):
        check_host("http://localhost:8000", "*", resolver=resolve)


def test_the_addresses_that_passed_are_returned_for_pinning():
    resolve = resolver({"api.test.local": ["10.1.2.4", "10.1.2.3", "10.1.2.3"]})
    pinned = check_host("http://api.test.local:8080", "*.test.local,10.0.0.0/8", resolver=resolve)
    assert [str(a) for a in pinned] == ["10.1.2.3", "10.1.2.4"]


def test_platform_endpoints_are_refused_even_when_named():
    internal = endpoints_of_urls(["redis://:pw@127.0.0.1:6390/0", "postgresql://u@db.internal/test", None, "bad"])
    assert internal == [Target("127.0.0.1", 6390), Target("db.internal", 5432)]
    resolve = resolver({"db.internal": ["10.0.0.7"], "alias.test": ["10.0.0.7"]})
    allowed = "127.0.0.1,localhost,::1,10.0.0.0/8,*.test,db.internal"
    for url in ("http://127.0.0.1:6390", "http://[::1]:6390", "http://[::ffff:127.0.0.1]:6390",
                "http://db.internal:5432", "http://alias.test:5432", "http://10.0.0.7:5432"):  # fmt: skip
        with pytest.raises(HostNotAllowed, match="platform's own endpoints"):
            check_host(url, allowed, resolver=resolve, internal=internal)
    check_host("http://127.0.0.1:6391", allowed, resolver=resolve, internal=internal)
    check_host("http://alias.test:8080", allowed, resolver=resolve, internal=internal)
