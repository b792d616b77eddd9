"""Host policy: allowed names and patterns, every resolved address checked, link-local and metadata refused."""

from __future__ import annotations

import pytest

from perf_test_service.host_policy import (
    DEFAULT_ALLOWED_HOSTS,
    REQUEST_OPTIONS,
    HostNotAllowed,
    check_host,
    extract_hostname,
    parse_allowed_hosts,
)


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
        ("http://[::ffff:127.0.0.1]:80", "127.0.0.1"),
    ],
)
def test_extract_hostname(value, host):
    assert extract_hostname(value) == host


def test_default_is_loopback_only():
    assert parse_allowed_hosts(None) == list(DEFAULT_ALLOWED_HOSTS)
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

    with pytest.raises(HostNotAllowed, match="link-local or cloud-metadata"):
        check_host("http://metadata.attacker.example", "*", resolver=resolve)
    with pytest.raises(HostNotAllowed, match="link-local or cloud-metadata"):
        check_host("http://metadata.attacker.example", "*,169.254.*,0.0.0.0/0", resolver=resolve)


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest", "http://[fe80::1]:80", "http://169.254.10.1"])
def test_link_local_literals_need_an_explicit_entry(url):
    with pytest.raises(HostNotAllowed, match="must be named explicitly"):
        check_host(url, "*")
    address = extract_hostname(url)
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


def test_generated_requests_do_not_follow_redirects():
    assert REQUEST_OPTIONS == {"allow_redirects": False}
