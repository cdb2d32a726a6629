"""Which hosts are 8x8, with which product and region; configured extra hosts; netloc extraction."""

from __future__ import annotations

import pytest

from otel_8x8.hosts import HOSTS_ENV, HostMatcher, Target, hosts_from_env, netloc_of

# The hosts table of the facts file, verbatim.
FACTS_HOSTS_TABLE = """
| sms      | sms.8x8.com, sms.us.8x8.com, sms.8x8.uk, sms.8x8.id |
| chatapps | chatapps.8x8.com, chatapps.us.8x8.com, chatapps.8x8.uk, chatapps.8x8.id |
| verify   | verify.8x8.com, verify.us.8x8.com, verify.8x8.uk, verify.8x8.id |
| lookup   | lookup.8x8.com, lookup.us.8x8.com, lookup.8x8.uk, lookup.8x8.id |
| contacts | contacts.8x8.com, contacts.us.8x8.com, contacts.8x8.uk, contacts.8x8.id |
| voice    | voice.8x8.com |
"""


def _region(host: str) -> str:
    """The region by 8x8's naming: .us.8x8.com (us), .8x8.com (ap), .8x8.uk (eu), .8x8.id (id)."""
    for suffix, region in ((".us.8x8.com", "us"), (".8x8.com", "ap"), (".8x8.uk", "eu"), (".8x8.id", "id")):
        if host.endswith(suffix):
            return region
    raise AssertionError(host)


def _facts_hosts() -> list[tuple[str, str, str]]:
    rows = []
    for line in FACTS_HOSTS_TABLE.strip().splitlines():
        product, hosts = (cell.strip() for cell in line.strip().strip("|").split("|"))
        rows += [(host.strip(), product, _region(host.strip())) for host in hosts.split(",")]
    return rows


FACTS_HOSTS = _facts_hosts()


def test_facts_table_parsed() -> None:
    assert len(FACTS_HOSTS) == 21
    assert ("sms.us.8x8.com", "sms", "us") in FACTS_HOSTS
    assert ("voice.8x8.com", "voice", "ap") in FACTS_HOSTS


@pytest.fixture
def matcher() -> HostMatcher:
    return HostMatcher()


# --- documented hosts ---------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "product", "region"), FACTS_HOSTS)
def test_documented_host(matcher: HostMatcher, host: str, product: str, region: str) -> None:
    assert matcher.match(host) == Target(product, region)


@pytest.mark.parametrize(("host", "product"), [("api.wavecell.com", "sms"), ("voice.wavecell.com", "voice")])
def test_legacy_host(matcher: HostMatcher, host: str, product: str) -> None:
    target = matcher.match(host)
    assert target is not None
    assert target.product == product


@pytest.mark.parametrize(
    "netloc",
    ["SMS.8X8.COM", "Sms.8x8.Com", "sms.8x8.com:443", "SMS.8x8.com:443", "sms.8x8.com.", "sms.8x8.com.:443"],
)
def test_case_port_and_trailing_dot(matcher: HostMatcher, netloc: str) -> None:
    assert matcher.match(netloc) == Target("sms", "ap")


@pytest.mark.parametrize("netloc", ["LOOKUP.US.8X8.COM:443", "lookup.us.8x8.com."])
def test_case_and_port_keep_region(matcher: HostMatcher, netloc: str) -> None:
    assert matcher.match(netloc) == Target("lookup", "us")


@pytest.mark.parametrize(
    "netloc",
    [
        "example.com",
        "8x8.com",
        "www.8x8.com",
        "8x8.com.evil.com",
        "sms.8x8.com.evil.com",
        "evil-sms.8x8.com",
        "evilsms.8x8.com",
        "sms.8x8.co",
        "sms8x8.com",
        "fax.8x8.com",
        "voice.us.8x8.com",  # voice is documented on voice.8x8.com only
        "sms.8x8.com@evil.com",
        "",
    ],
)
def test_not_8x8(matcher: HostMatcher, netloc: str) -> None:
    assert matcher.match(netloc) is None


def test_match_is_stable_across_calls(matcher: HostMatcher) -> None:
    assert matcher.match("SMS.8x8.com") == matcher.match("SMS.8x8.com") == Target("sms", "ap")
    assert matcher.match("example.com") is None
    assert matcher.match("example.com") is None


# --- configured hosts ---------------------------------------------------------------------------


@pytest.fixture
def configured() -> HostMatcher:
    return HostMatcher(["*.gw.example.com", "127.0.0.1:8080", "gw.example.com=sms", " proxy.example.org. "])


@pytest.mark.parametrize("netloc", ["a.gw.example.com", "b.a.gw.example.com", "A.GW.EXAMPLE.COM:8443"])
def test_wildcard_matches_subdomains(configured: HostMatcher, netloc: str) -> None:
    assert configured.match(netloc) is not None


@pytest.mark.parametrize("netloc", ["xgw.example.com", "gw.example.com.evil.com", "a.gw.example.com.evil.com"])
def test_wildcard_does_not_match_lookalikes(configured: HostMatcher, netloc: str) -> None:
    assert configured.match(netloc) is None


def test_wildcard_does_not_match_its_apex() -> None:
    assert HostMatcher(["*.gw.example.com"]).match("gw.example.com") is None


def test_host_with_product(configured: HostMatcher) -> None:
    target = configured.match("gw.example.com")
    assert target is not None
    assert target.product == "sms"


def test_unknown_product_is_dropped() -> None:
    target = HostMatcher(["gw.example.com=fax"]).match("gw.example.com")
    assert target is not None
    assert target.product is None


def test_host_port_entry_matches_only_that_port(configured: HostMatcher) -> None:
    assert configured.match("127.0.0.1:8080") is not None
    assert configured.match("127.0.0.1:9090") is None
    assert configured.match("127.0.0.1") is None


def test_entry_is_trimmed_and_lowercased(configured: HostMatcher) -> None:
    assert configured.match("proxy.example.org") is not None
    assert configured.match("PROXY.example.org:443") is not None


def test_defaults_still_match_with_extras(configured: HostMatcher) -> None:
    assert configured.match("sms.8x8.uk") == Target("sms", "eu")
    assert configured.match("example.com") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gw.example.com", ["gw.example.com"]),
        (
            " *.gw.example.com , 127.0.0.1:8080,,gw.example.com=sms ",
            ["*.gw.example.com", "127.0.0.1:8080", "gw.example.com=sms"],
        ),
        ("", []),
        (" , ", []),
    ],
)
def test_hosts_from_env(value: str, expected: list[str]) -> None:
    assert hosts_from_env({HOSTS_ENV: value}) == expected


def test_hosts_from_env_unset() -> None:
    assert HOSTS_ENV == "OTEL_PYTHON_8X8_HOSTS"
    assert hosts_from_env({}) == []


def test_hosts_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_PYTHON_8X8_HOSTS", "a.example.com,b.example.com")
    assert hosts_from_env() == ["a.example.com", "b.example.com"]


# --- netloc_of ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://sms.8x8.com/api/v1/subaccounts/acme/messages", "sms.8x8.com"),
        ("https://sms.8x8.com:443/api/v1/x", "sms.8x8.com:443"),
        ("https://sms.8x8.com?apikey=x", "sms.8x8.com"),
        ("https://sms.8x8.com#frag", "sms.8x8.com"),
        ("https://sms.8x8.com", "sms.8x8.com"),
        ("http://127.0.0.1:8080/api", "127.0.0.1:8080"),
        ("http://[::1]:8080/api", "[::1]:8080"),
        ("http://[2001:db8::1]/api", "[2001:db8::1]"),
        ("https://user:secret@sms.8x8.com:443/api?x#y", "sms.8x8.com:443"),  # host[:port], no userinfo
        ("sms.8x8.com/api", ""),
    ],
)
def test_netloc_of(url: str, expected: str) -> None:
    assert netloc_of(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@sms.8x8.com/api/v1/subaccounts/acme/messages",
        "https://SMS.8x8.com:443/api?x=1#y",
        "https://sms.8x8.com",
    ],
)
def test_netloc_of_feeds_matcher(matcher: HostMatcher, url: str) -> None:
    assert matcher.match(netloc_of(url)) == Target("sms", "ap")


def test_netloc_of_hostile_urls_not_8x8(matcher: HostMatcher) -> None:
    assert matcher.match(netloc_of("https://evil.com/sms.8x8.com")) is None
    assert matcher.match(netloc_of("https://evil.com?@sms.8x8.com")) is None
    assert matcher.match(netloc_of("https://evil.com#@sms.8x8.com")) is None
    assert matcher.match(netloc_of("https://sms.8x8.com@evil.com/")) is None
