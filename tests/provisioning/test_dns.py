"""Record parsing, TXT by value, and the delegation check against a real parent zone (R11)."""

from __future__ import annotations

from collections.abc import Iterator

import dns.message
import dns.query
import pytest

from infrawg.errors import Invalid
from infrawg.provisioning.base import supports
from infrawg.provisioning.kinds.dns.capabilities import DnsChallengeSolver
from infrawg.provisioning.kinds.dns.names import delegation_check, ds_records, parse_rrset
from infrawg.provisioning.kinds.dns.spec import RRset, ZoneSpec
from infrawg.provisioning.registry import build_provider
from tests.servers.bind import BindServer, ZoneConf

# -- parse_rrset ------------------------------------------------------------------------------


def test_parse_rrset_canonicalises_names_and_order() -> None:
    rrset = parse_rrset("WWW", "a", "300", ["192.0.2.2", "192.0.2.1", "192.0.2.2"], "Ex.org")
    assert rrset == RRset("www.ex.org.", "A", 300, ("192.0.2.1", "192.0.2.2"))
    assert parse_rrset("@", "MX", 60, ["10 mail"], "ex.org").values == ("10 mail.ex.org.",)
    assert parse_rrset("x", "TXT", 60, ["hello"], "ex.org").values == ('"hello"',)


@pytest.mark.parametrize(
    ("rdtype", "value", "message"),
    [
        ("A", "192.0.2.300", "192.0.2.300"),
        ("AAAA", "not-an-address", "not-an-address"),
        ("MX", "mail.example.org.", "MX"),
        ("CAA", "0 issue", "CAA"),
    ],
)
def test_r11_bad_record_is_refused_with_the_parsers_message(rdtype, value, message) -> None:
    with pytest.raises(Invalid) as err:
        parse_rrset("www", rdtype, 300, [value], "example.org")
    assert message in str(err.value)
    assert err.value.message.startswith("www.example.org. ")


def test_parse_rrset_refuses_server_owned_types_bad_ttl_and_outside_names() -> None:
    with pytest.raises(Invalid, match="managed by the server"):
        parse_rrset("@", "DNSKEY", 300, ["257 3 13 AAAA"], "example.org")
    with pytest.raises(Invalid, match="TTL"):
        parse_rrset("www", "A", "soon", ["192.0.2.1"], "example.org")
    with pytest.raises(Invalid, match="outside the zone"):
        parse_rrset("www.example.com.", "A", 300, ["192.0.2.1"], "example.org")
    with pytest.raises(Invalid, match="not a DNS record type"):
        parse_rrset("www", "BOGUS", 300, ["x"], "example.org")


def test_zone_spec_refuses_a_repeated_name_and_type() -> None:
    a = parse_rrset("www", "A", 300, ["192.0.2.1"], "example.org")
    with pytest.raises(Invalid, match="repeated"):
        ZoneSpec("example.org", (a, a))


def test_validate_refuses_cname_beside_other_data_and_missing_apex_ns(tmp_path) -> None:
    provider = build_provider(
        "zonefile", {"directory": str(tmp_path), "key_directory": str(tmp_path / "k")}
    )
    ns = parse_rrset("@", "NS", 300, ["ns1.example.net."], "example.org")
    cname = parse_rrset("www", "CNAME", 300, ["web"], "example.org")
    addr = parse_rrset("www", "A", 300, ["192.0.2.1"], "example.org")
    with pytest.raises(Invalid, match="CNAME"):
        provider.validate(ZoneSpec("example.org", (ns, cname, addr)))
    with pytest.raises(Invalid, match="needs NS records"):
        provider.validate(ZoneSpec("example.org", (addr,)))


# -- TXT by value (ACME DNS-01: apex and wildcard tokens side by side) ---------------------------


def _txt(bind: BindServer, name: str) -> set[str]:
    response = bind.query(name, "TXT")
    return {rd.to_text() for rrset in response.answer for rd in rrset}


def test_txt_values_are_added_and_removed_by_value(bind, bind_zone, rfc2136_config) -> None:
    zone = bind_zone()
    provider = build_provider("rfc2136", rfc2136_config)
    assert supports(provider, DnsChallengeSolver)
    name = f"_acme-challenge.{zone}"
    provider.add_txt(zone, name, "token-for-apex")
    provider.add_txt(zone, name, "token-for-wildcard")
    assert provider.wait_for_txt(zone, name, '"token-for-wildcard"', timeout=5)
    assert _txt(bind, name) == {'"token-for-apex"', '"token-for-wildcard"'}
    provider.remove_txt(zone, name, "token-for-apex")
    assert _txt(bind, name) == {'"token-for-wildcard"'}


def test_a_planned_txt_update_leaves_other_values_in_place(bind, bind_zone, rfc2136_config):
    zone = bind_zone()
    provider = build_provider("rfc2136", rfc2136_config)
    base = (
        parse_rrset("@", "NS", 300, ["ns1"], zone),
        parse_rrset("ns1", "A", 300, ["127.0.0.1"], zone),
    )
    txt = parse_rrset("@", "TXT", 300, ['"site-verification=a"', '"keep-me"'], zone)
    provider.apply(provider.plan_for(ZoneSpec(zone, (*base, txt), dnssec=True)))
    less = parse_rrset("@", "TXT", 300, ['"keep-me"'], zone)
    plan = provider.plan_for(ZoneSpec(zone, (*base, less), dnssec=True))
    assert [(c.op.value, c.path) for c in plan.changes] == [("update", f"{zone} TXT")]
    provider.apply(plan)
    assert _txt(bind, zone) == {'"keep-me"'}


# -- delegation check against a real parent zone ---------------------------------------------------


def _keys(bind: BindServer, zone: str) -> list[str]:
    return [k.to_text() for k in bind.query(zone, "DNSKEY").answer[0]]


@pytest.fixture
def parent(bind: BindServer) -> Iterator[BindServer]:
    """A second named serving parent.test with three delegations: `good` matches the child
    zones on the main server, `bad` points elsewhere without DS, `old` keeps a DS although
    its zone is meant to be unsigned."""
    good_ds = ds_records("good.parent.test.", _keys(bind, "good.parent.test."))
    text = "\n".join(
        [
            "$ORIGIN parent.test.",
            "$TTL 300",
            "@ SOA ns1 hostmaster 1 3600 600 86400 300",
            "@ NS ns1",
            "ns1 A 127.0.0.1",
            "good NS ns1.good",
            "ns1.good A 127.0.0.1",
            *[f"good DS {ds}" for ds in good_ds],
            "bad NS ns9.example.net.",
            "old NS ns1.old",
            "ns1.old A 127.0.0.1",
            "old DS 12345 13 2 " + "AB" * 32,
            "",
        ]
    )
    with BindServer([ZoneConf("parent.test.", dynamic=False, text=text)]) as server:
        yield server


def test_r11_delegation_check_passes_when_parent_ns_and_ds_match(bind, parent) -> None:
    zone = "good.parent.test."
    result = delegation_check(
        zone,
        [parent.host],
        expected_ns=["ns1.good.parent.test."],
        expected_ds=ds_records(zone, _keys(bind, zone)),
        port=parent.port,
    )
    assert result.ok, result
    assert result.fixes == ()
    assert result.parent_ns == ("ns1.good.parent.test.",)


def test_r11_delegation_check_says_what_to_fix_when_parent_differs(bind, parent) -> None:
    zone = "bad.parent.test."
    want_ds = ds_records(zone, _keys(bind, zone))
    result = delegation_check(
        zone,
        [parent.host],
        expected_ns=["ns1.bad.parent.test."],
        expected_ds=want_ds,
        port=parent.port,
    )
    assert not result.ok and not result.ns_ok and not result.ds_ok
    assert result.parent_ns == ("ns9.example.net.",)
    text = "\n".join(result.fixes)
    assert "set the name servers (NS) of bad.parent.test. to: ns1.bad.parent.test." in text
    assert "Remove these name servers: ns9.example.net." in text
    assert f"add the DS record for bad.parent.test.: {want_ds[0]}" in text


def test_r11_delegation_check_flags_a_ds_left_for_an_unsigned_zone(parent) -> None:
    result = delegation_check(
        "old.parent.test.", [parent.host], ["ns1.old.parent.test."], port=parent.port
    )
    assert result.ns_ok and not result.ds_ok
    assert any("remove the DS record 12345 13 2" in f and "not signed" in f for f in result.fixes)


def test_delegation_check_reports_an_unreachable_parent() -> None:
    from tests.servers.ports import free_port

    result = delegation_check(
        "x.parent.test.", ["127.0.0.1"], ["ns1.x.parent.test."], port=free_port(), timeout=0.5
    )
    assert not result.ok
    assert result.errors and "did not answer" in result.errors[0]


def test_parent_answers_referrals_not_authoritative_data(parent) -> None:
    # Guard for the test itself: the parent must not also serve the child, or the NS answer
    # would be the child's own and the check would prove nothing.
    query = dns.message.make_query("good.parent.test.", "NS")
    response = dns.query.udp(query, parent.host, port=parent.port, timeout=5)
    assert not response.answer and response.authority
