"""The outbound policy: address classes, allow-list syntax, listeners, save-time URL checks, settings."""

import pytest

from gateway_app.core.config import ConfigError, load_settings
from gateway_app.core.outbound import LISTED, NEVER, PRIVATE, OutboundPolicy, classify, parse_allow_list, parse_ip

DENY_BY_DEFAULT = [
    ("127.0.0.1", PRIVATE, "loopback"), ("127.8.9.10", PRIVATE, "loopback"), ("::1", PRIVATE, "loopback"),
    ("10.0.0.1", PRIVATE, "private"), ("172.16.5.4", PRIVATE, "private"), ("192.168.1.1", PRIVATE, "private"),
    ("fd12::1", PRIVATE, "private"), ("100.64.0.1", PRIVATE, "reserved"), ("240.0.0.1", PRIVATE, "reserved"),
    ("169.254.169.254", LISTED, "metadata"), ("169.254.10.1", LISTED, "link-local"), ("fe80::1", LISTED, "link-local"),
    ("fe80::1%eth0", LISTED, "link-local"), ("fd00:ec2::254", LISTED, "metadata"),
    ("100.100.100.200", LISTED, "metadata"),
    ("0.0.0.0", NEVER, "unspecified"), ("::", NEVER, "unspecified"), ("224.0.0.1", NEVER, "multicast"),
    ("ff02::1", NEVER, "multicast"), ("255.255.255.255", NEVER, "broadcast"),
    # IPv6 forms that carry an IPv4 address are judged by the address they carry.
    ("::ffff:127.0.0.1", PRIVATE, "loopback"), ("::ffff:169.254.169.254", LISTED, "metadata"),
    ("::ffff:10.1.2.3", PRIVATE, "private"), ("64:ff9b::7f00:1", PRIVATE, "loopback"),
    ("2002:a9fe:a9fe::", LISTED, "metadata"), ("::127.0.0.1", PRIVATE, "loopback"),
]


@pytest.mark.parametrize("address, level, word", DENY_BY_DEFAULT)
def test_non_public_addresses_are_classified(address, level, word):
    what, found = classify(parse_ip(address))
    assert found == level and word in what


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700::1111", "::ffff:8.8.8.8",
                                     "64:ff9b::808:808"])
def test_public_addresses_pass(address):
    assert classify(parse_ip(address)) is None
    assert OutboundPolicy().check(address, 443) is None


def test_default_policy_refuses_and_explains():
    denial = OutboundPolicy().check("127.0.0.1", 9000)
    text = denial.describe()
    assert "127.0.0.1 is a loopback address (port 9000)" in text
    assert "ALLOW_PRIVATE_UPSTREAMS=true" in text and "127.0.0.1:9000 to PROVIDER_ALLOWED_HOSTS" in text
    named = OutboundPolicy().check("10.0.0.7", 443).describe("models.internal")
    assert "models.internal resolves to a private address" in named and "10.0.0.7" not in named
    assert "models.internal:443 to PROVIDER_ALLOWED_HOSTS" in named


def test_allow_private_opens_private_ranges_but_not_metadata_or_never():
    policy = OutboundPolicy(allow_private=True)
    assert policy.check("127.0.0.1", 11434) is None and policy.check("192.168.1.20", 8000) is None
    metadata = policy.check("169.254.169.254", 80)
    assert metadata.level == LISTED and "ALLOW_PRIVATE_UPSTREAMS" not in metadata.describe()
    assert policy.check("0.0.0.0", 80).level == NEVER


def test_allow_list_entries_and_ports():
    policy = OutboundPolicy.from_config(False, "127.0.0.1:9000, 10.0.0.0/8, [::1]:7000, ollama.lan:11434, gpu.lan",
                                        "")
    assert policy.check("127.0.0.1", 9000) is None
    assert policy.check("127.0.0.1", 9001) is not None, "host:port allows that port only"
    assert policy.check("::ffff:127.0.0.1", 9000) is None, "the mapped form of an allowed address is allowed"
    assert policy.check("10.9.9.9", 1234) is None and policy.check("::1", 7000) is None
    assert policy.check("::1", 7001) is not None
    assert policy.host_allowed("ollama.lan", 11434) and not policy.host_allowed("ollama.lan", 80)
    assert policy.host_allowed("GPU.lan.", 8000), "names match case-insensitively, trailing dot ignored"
    assert policy.check("10.0.0.5", 80, host_allowed=True) is None
    listed = OutboundPolicy.from_config(False, "169.254.169.254:80", "")
    assert listed.check("169.254.169.254", 80) is None and listed.check("169.254.169.254", 8080) is not None
    assert OutboundPolicy.from_config(False, "0.0.0.0/0", "").check("0.0.0.0", 80).level == NEVER


@pytest.mark.parametrize("entry", ["bad host", "127.0.0.1:0", "127.0.0.1:99999", "host:port", "[::1", "[::1]x",
                                   "2130706433", "a..b"])
def test_bad_allow_list_entries_are_refused(entry):
    with pytest.raises(ValueError):
        parse_allow_list(entry)


def test_bad_allow_list_stops_the_start_naming_the_variable():
    with pytest.raises(ConfigError, match="PROVIDER_ALLOWED_HOSTS") as info:
        load_settings(provider_allowed_hosts="ok.example, not a host")
    assert "not a host" in str(info.value)
    assert load_settings().allow_private_upstreams is False


def test_own_listeners_are_refused_always():
    policy = OutboundPolicy.from_config(True, "127.0.0.1:8080", "127.0.0.1:8080,0.0.0.0:3000")
    for address, port in (("127.0.0.1", 8080), ("127.0.0.2", 8080), ("::1", 8080), ("::ffff:127.0.0.1", 8080),
                          ("127.0.0.1", 3000), ("0.0.0.0", 3000)):
        denial = policy.check(address, port)
        assert denial is not None and denial.level == NEVER, (address, port)
        assert "own listener" in denial.describe() and "never allowed" in denial.describe()
    assert policy.check("127.0.0.1", 8081) is None


@pytest.mark.parametrize("url, refused", [
    ("http://169.254.169.254/latest", True), ("http://localhost:8080", True), ("http://api.localhost/v1", True),
    ("http://[::ffff:127.0.0.1]/v1", True), ("http://2130706433/", True), ("http://0x7f.1/", True),
    ("http://127.1/", True), ("https://10.1.1.1/v1", True), ("http://127.0.0.1:9000/v1", False),
    ("https://api.openai.com/v1", False), ("http://internal.example/v1", False), ("http://8.8.8.8/v1", False),
])
def test_save_time_check_covers_literal_addresses_only(url, refused):
    problem = OutboundPolicy.from_config(False, "127.0.0.1:9000", "").check_url(url)
    assert (problem is not None) == refused, problem
    if problem:
        assert problem.startswith("the provider's address is not allowed")
