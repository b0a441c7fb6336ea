"""The provider contract: what every DNS provider of infrawg must do, as pytest tests.

A provider written outside this repository runs it from its own test suite, against its own
live server, without editing infrawg:

    import pytest
    from infrawg.testing.provider_contract import DnsProviderContract, Harness

    class TestMyProvider(DnsProviderContract):
        @pytest.fixture
        def harness(self, tmp_path) -> Harness:
            provider = build_provider("myprovider", {...})  # or MyProvider(MyConfig(...))
            return Harness.for_zone(provider, "contract.example.", ns=["ns1.example.net."])

The harness gives the provider a fresh, empty zone on the live server for each test, the
records a spec must always hold (the apex NS) and what the zone keeps after `destroy`.
The contract checks the provider's class against the `Provider` interface
(`infrawg.registry.verify_class`), then plan, apply, re-plan, verify, dry run, stale plans,
destroy, the framework's safety thresholds, and (for a `DnsChallengeSolver`) TXT values added
and removed one by one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from infrawg.provisioning.base import Op, Provider, StalePlan, UnsafePlan
from infrawg.provisioning.kinds.dns.capabilities import DnsChallengeSolver
from infrawg.provisioning.kinds.dns.names import parse_rrset
from infrawg.provisioning.kinds.dns.spec import RRset, ZoneSpec
from infrawg.provisioning.registry import available_providers
from infrawg.registry import verify_class

__all__ = ["DnsProviderContract", "Harness"]


@dataclass
class Harness:
    """A provider with a fresh resource. `required` goes into every spec (a zone needs its
    apex NS); `baseline` is what the resource holds before we touch it and keeps after destroy
    (for RFC 2136: the apex NS and its glue; for zone files: nothing)."""

    provider: Provider[ZoneSpec]
    zone: str
    required: tuple[RRset, ...]
    baseline: tuple[RRset, ...]
    dnssec: bool

    @classmethod
    def for_zone(
        cls,
        provider: Provider[ZoneSpec],
        zone: str,
        ns: Iterable[str],
        *,
        glue: Iterable[tuple[str, str]] = (),
        existing: bool = False,
        dnssec: bool = True,
        ttl: int = 300,
    ) -> Harness:
        """A harness for `zone` with apex NS `ns` and (name, address) A `glue` records.

        `existing`: the server already holds the zone with those records (a provider that
        cannot create zones, like RFC 2136); otherwise the zone does not exist yet.
        """
        required = (
            parse_rrset("@", "NS", ttl, list(ns), zone),
            *(parse_rrset(name, "A", ttl, [address], zone) for name, address in glue),
        )
        return cls(provider, zone, required, required if existing else (), dnssec)

    def rr(self, name: str, rdtype: str, *values: str, ttl: int = 300) -> RRset:
        return parse_rrset(name, rdtype, ttl, values, self.zone)

    def spec(self, *rrsets: RRset) -> ZoneSpec:
        """Baseline plus `rrsets` (an rrset replaces the baseline one with its key)."""
        by_key = {r.key: r for r in self.required}
        by_key.update({r.key: r for r in rrsets})
        return ZoneSpec(self.zone, tuple(by_key.values()), dnssec=self.dnssec)

    def records(self) -> list[RRset]:
        """A small zone's worth of typical records."""
        return [
            self.rr("www", "A", "192.0.2.10", "192.0.2.11"),
            self.rr("www", "AAAA", "2001:db8::10"),
            self.rr("@", "MX", "10 mail"),
            self.rr("mail", "A", "192.0.2.25"),
            self.rr("@", "TXT", '"v=spf1 mx -all"'),
            self.rr("docs", "CNAME", "www"),
        ]


def _applied(h: Harness, spec: ZoneSpec) -> None:
    h.provider.apply(h.provider.plan_for(spec))


def _bulk(h: Harness, n: int) -> list[RRset]:
    return [h.rr(f"host{i}", "A", f"192.0.2.{i + 1}") for i in range(n)]


class DnsProviderContract:
    """Subclass as `Test<Provider>` and give it a `harness` fixture; pytest runs every test."""

    @pytest.fixture
    def harness(self) -> Harness:
        pytest.fail(f"{type(self).__name__} must define a `harness` fixture for its provider")

    def test_implements_the_provider_interface(self, harness: Harness) -> None:
        cls = type(harness.provider)
        assert verify_class(Provider, cls, factory=None) == []
        assert cls.kind == "dns" and cls.name and isinstance(cls.capabilities, frozenset)
        registered = available_providers().get(cls.name)
        assert registered in (None, cls), f"{cls.name!r} is registered as {registered!r}"

    def test_solves_dns_challenges_by_value(self, harness: Harness) -> None:
        # A typed capability (DnsChallengeSolver), not a string: the methods must work.
        solver = harness.provider
        if not isinstance(solver, DnsChallengeSolver):  # base.supports, narrowed for mypy
            pytest.skip(f"{type(solver).__name__} is not a DnsChallengeSolver")
        _applied(harness, harness.spec())
        name = f"_acme-challenge.{harness.zone}"
        solver.add_txt(harness.zone, name, "token-for-apex")
        solver.add_txt(harness.zone, name, "token-for-wildcard")
        assert solver.wait_for_txt(harness.zone, name, "token-for-wildcard", 10)
        state = harness.provider.read(harness.zone).state
        txt = state.get(name, "TXT") if state is not None else None
        assert txt is not None and set(txt.values) == {'"token-for-apex"', '"token-for-wildcard"'}
        solver.remove_txt(harness.zone, name, "token-for-apex")
        state = harness.provider.read(harness.zone).state
        txt = state.get(name, "TXT") if state is not None else None
        assert txt is not None and txt.values == ('"token-for-wildcard"',)

    def test_plan_on_empty_gives_creates(self, harness: Harness) -> None:
        spec = harness.spec(*harness.records())
        plan = harness.provider.plan_for(spec)
        assert plan.changes
        assert {c.op for c in plan.changes} == {Op.CREATE}
        planned = {c.path for c in plan.changes if c.path != "dnssec"}
        before = {r.path for r in harness.baseline}
        assert planned == {r.path for r in spec.rrsets} - before
        assert "+ www." in plan.render()

    def test_apply_then_replan_is_empty_and_verify_passes(self, harness: Harness) -> None:
        spec = harness.spec(*harness.records())
        result = harness.provider.apply(harness.provider.plan_for(spec))
        assert result.applied
        again = harness.provider.plan_for(spec)
        assert again.empty, again.render()
        assert "in sync" in again.render()
        checks = harness.provider.verify(spec)
        assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]
        assert {r.path for r in spec.rrsets} <= {c.name for c in checks}

    def test_applying_the_same_plan_twice_is_refused_and_changes_nothing(
        self, harness: Harness
    ) -> None:
        spec = harness.spec(*harness.records())
        plan = harness.provider.plan_for(spec)
        harness.provider.apply(plan)
        fingerprint = harness.provider.read(harness.zone).fingerprint
        with pytest.raises(StalePlan):
            harness.provider.apply(plan)
        assert harness.provider.read(harness.zone).fingerprint == fingerprint

    def test_a_change_plans_only_what_changed(self, harness: Harness) -> None:
        records = harness.records()
        _applied(harness, harness.spec(*records))
        www = harness.rr("www", "A", "192.0.2.10", "192.0.2.12")  # one value out, one in
        mx_ttl = harness.rr("@", "MX", "10 mail", ttl=600)  # TTL only
        new = harness.rr("api", "A", "192.0.2.30")
        kept = [r for r in records if r.path not in (www.path, mx_ttl.path) and r.rdtype != "AAAA"]
        spec = harness.spec(*kept, www, mx_ttl, new)
        plan = harness.provider.plan_for(spec)
        ops = {c.path: c.op for c in plan.changes}
        assert ops == {
            www.path: Op.UPDATE,
            mx_ttl.path: Op.UPDATE,
            new.path: Op.CREATE,
            harness.rr("www", "AAAA", "::1").path: Op.DELETE,
        }
        text = plan.render()
        assert "- 300 192.0.2.11" in text and "+ 300 192.0.2.12" in text
        harness.provider.apply(plan)
        assert harness.provider.plan_for(spec).empty
        assert all(c.ok for c in harness.provider.verify(spec))

    def test_dry_run_changes_nothing(self, harness: Harness) -> None:
        spec = harness.spec(*harness.records())
        before = harness.provider.read(harness.zone)
        plan = harness.provider.plan(spec, before)
        result = harness.provider.apply(plan, dry_run=True)
        assert result.dry_run and not result.applied
        assert result.changes == plan.changes
        assert harness.provider.read(harness.zone).fingerprint == before.fingerprint
        assert harness.provider.plan_for(spec).changes == plan.changes

    def test_stale_plan_is_refused(self, harness: Harness) -> None:
        records = harness.records()
        _applied(harness, harness.spec(*records))
        mine = harness.provider.plan_for(harness.spec(*records, harness.rr("a", "A", "192.0.2.1")))
        # Someone else changes the zone after my plan was reviewed.
        _applied(harness, harness.spec(*records, harness.rr("b", "A", "192.0.2.2")))
        with pytest.raises(StalePlan, match="changed after this plan was made"):
            harness.provider.apply(mine)
        state = harness.provider.read(harness.zone).state
        assert state is not None
        assert state.get(f"a.{harness.zone}", "A") is None
        assert state.get(f"b.{harness.zone}", "A") is not None

    def test_destroy_then_verify_shows_it_gone(self, harness: Harness) -> None:
        spec = harness.spec(*harness.records())
        _applied(harness, spec)
        harness.provider.destroy(harness.zone)
        checks = {c.name: c for c in harness.provider.verify(spec)}
        assert not all(c.ok for c in checks.values())
        baseline = {r.path for r in harness.baseline}
        for rrset in harness.records():
            if rrset.path in checks:  # rfc2136 reports per record; zonefile reports the file gone
                assert not checks[rrset.path].ok, rrset.path
        state = harness.provider.read(harness.zone).state
        left = {r.path for r in state.rrsets} if state is not None else set()
        assert left <= baseline

    # -- safety thresholds, enforced by the framework for every provider ---------------------

    def test_mass_change_over_30_percent_is_refused_unless_forced(self, harness: Harness) -> None:
        hosts = _bulk(harness, 12 - len(harness.required))
        _applied(harness, harness.spec(*hosts))  # 12 items
        # Delete 4 of 12 (33%): refused.
        plan = harness.provider.plan_for(harness.spec(*hosts[4:]))
        with pytest.raises(UnsafePlan, match="4 of 12"):
            harness.provider.apply(plan)
        assert harness.provider.plan_for(harness.spec(*hosts[4:])).changes == plan.changes
        result = harness.provider.apply(plan, force=True)
        assert result.applied
        assert harness.provider.plan_for(harness.spec(*hosts[4:])).empty

    def test_change_within_30_percent_runs_unforced(self, harness: Harness) -> None:
        hosts = _bulk(harness, 12 - len(harness.required))
        _applied(harness, harness.spec(*hosts))
        changed = [harness.rr(r.name, "A", "198.51.100.1") for r in hosts[:3]]  # 3 of 12 = 25%
        assert harness.provider.apply(harness.provider.plan_for(harness.spec(*changed, *hosts[3:])))

    def test_small_resources_change_wholesale(self, harness: Harness) -> None:
        hosts = _bulk(harness, 9 - len(harness.required))
        _applied(harness, harness.spec(*hosts))  # 9 items: below the threshold's minimum
        assert harness.provider.apply(harness.provider.plan_for(harness.spec()))

    def test_apex_ns_change_is_refused_unless_forced(self, harness: Harness) -> None:
        _applied(harness, harness.spec(*harness.records()))
        ns = next(r for r in harness.required if r.rdtype == "NS")
        more = harness.rr("@", "NS", *ns.values, "ns2.example.net.", ttl=ns.ttl)
        plan = harness.provider.plan_for(harness.spec(*harness.records(), more))
        with pytest.raises(UnsafePlan, match="apex NS"):
            harness.provider.apply(plan)
        harness.provider.apply(plan, force=True)
        assert harness.provider.plan_for(harness.spec(*harness.records(), more)).empty
