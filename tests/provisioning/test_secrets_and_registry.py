"""Secret references, the entry-point registry, and the framework's safety rules in isolation."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from infrawg.errors import Invalid, NotFound
from infrawg.provisioning.base import Change, Op, Plan, safety_problems, supports
from infrawg.provisioning.kinds.dns.capabilities import DnsChallengeSolver
from infrawg.provisioning.kinds.dns.spec import RRset, ZoneSpec
from infrawg.provisioning.providers.rfc2136 import Rfc2136Provider
from infrawg.provisioning.providers.zonefile import ZonefileProvider
from infrawg.provisioning.registry import (
    available_providers,
    build_provider,
    get_provider_class,
)
from infrawg.provisioning.secrets import Secret, resolve_secret

# -- secrets ------------------------------------------------------------------------------------


def _secret_file(tmp_path: Path, mode: int, text: str = "s3cret-value") -> Path:
    path = tmp_path / "secret"
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_secret_file_open_to_group_or_others_is_refused_with_the_fix(tmp_path, mode) -> None:
    path = _secret_file(tmp_path, mode)
    with pytest.raises(Invalid) as err:
        resolve_secret(f"file:{path}")
    assert f"chmod 600 {path}" in err.value.message
    assert "s3cret-value" not in err.value.message


def test_secret_file_readable_by_owner_only_resolves(tmp_path) -> None:
    secret = resolve_secret(f"file:{_secret_file(tmp_path, 0o600)}")
    assert secret.reveal() == "s3cret-value"


def test_secret_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("INFRAWG_TEST_TSIG", "from-env")
    assert resolve_secret("env:INFRAWG_TEST_TSIG").reveal() == "from-env"
    monkeypatch.delenv("INFRAWG_TEST_TSIG")
    with pytest.raises(Invalid, match=r"INFRAWG_TEST_TSIG .* is not set"):
        resolve_secret("env:INFRAWG_TEST_TSIG")


def test_a_literal_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(Invalid) as err:
        resolve_secret("hunter2")
    assert "hunter2" not in err.value.message


def test_a_relative_or_missing_secret_file_is_refused(tmp_path) -> None:
    with pytest.raises(Invalid, match="absolute path"):
        resolve_secret("file:secret.key")
    with pytest.raises(Invalid, match="does not exist"):
        resolve_secret(f"file:{tmp_path / 'nope'}")


def test_secret_never_shows_its_value() -> None:
    secret = Secret("topsecret", "env:X")
    assert "topsecret" not in repr(secret)
    assert "topsecret" not in str(secret)
    assert "topsecret" not in f"{secret}"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_provider_config_holds_the_secret_masked(rfc2136_config) -> None:
    provider = build_provider("rfc2136", rfc2136_config)
    assert isinstance(provider.config.tsig_secret, Secret)
    assert provider.config.tsig_secret.reveal() not in repr(provider.config)


def test_building_a_provider_with_a_world_readable_key_is_refused(bind, tmp_path) -> None:
    path = _secret_file(tmp_path, 0o644, bind.key_file_text)
    with pytest.raises(Invalid, match="open to group or others"):
        build_provider(
            "rfc2136",
            {
                "server": bind.host,
                "port": bind.port,
                "tsig_key_name": bind.tsig_key_name,
                "tsig_secret": f"file:{path}",
            },
        )


# -- registry -----------------------------------------------------------------------------------


def test_builtins_are_registered_through_entry_points() -> None:
    providers = available_providers()
    assert providers["rfc2136"] is Rfc2136Provider
    assert providers["zonefile"] is ZonefileProvider
    assert get_provider_class("zonefile") is ZonefileProvider
    for cls in providers.values():
        assert cls.kind and cls.name and isinstance(cls.capabilities, frozenset)


def test_capabilities_are_honest() -> None:
    # RFC 2136 cannot add a zone to a server; only the zone-file provider creates zones.
    assert "zone_create" not in Rfc2136Provider.capabilities
    assert "dnssec" in Rfc2136Provider.capabilities
    assert {"dnssec", "zone_create"} <= ZonefileProvider.capabilities


def test_capabilities_with_methods_are_typed_protocols() -> None:
    # Both DNS providers solve ACME DNS-01 challenges: the methods exist, not just a string.
    assert supports(Rfc2136Provider, DnsChallengeSolver)
    assert supports(ZonefileProvider, DnsChallengeSolver)
    assert not any(isinstance(c, str) and "txt" in c for c in ZonefileProvider.capabilities)


def test_unknown_provider_and_bad_settings_are_explained(tmp_path) -> None:
    with pytest.raises(NotFound, match="rfc2136"):
        get_provider_class("route53")
    with pytest.raises(Invalid, match="directory' is required"):
        build_provider("zonefile", {"key_directory": str(tmp_path)})
    with pytest.raises(Invalid, match="Unknown setting"):
        build_provider("zonefile", {"directory": "/x", "key_directory": "/y", "colour": "red"})
    with pytest.raises(Invalid, match="must be a number"):
        build_provider("zonefile", {"directory": "/x", "key_directory": "/y", "soa_ttl": "x"})


# -- safety rules (pure) --------------------------------------------------------------------------

ZONE = "safe.example."


def _rr(i: int) -> RRset:
    return RRset(f"h{i}.{ZONE}", "A", 300, (f"192.0.2.{i}",))


def _plan(existing: int, changes: list[Change], exists: bool = True) -> Plan[ZoneSpec]:
    return Plan(
        provider="zonefile",
        ref=ZONE,
        spec=ZoneSpec(ZONE),
        changes=tuple(changes),
        fingerprint="x",
        existing_items=existing,
        resource_exists=exists,
    )


def test_threshold_counts_deletes_and_updates_not_creates() -> None:
    deletes = [Change(Op.DELETE, _rr(i).path, _rr(i), None) for i in range(4)]
    creates = [Change(Op.CREATE, _rr(i).path, None, _rr(i)) for i in range(100, 150)]
    assert safety_problems(_plan(12, deletes[:3] + creates)) == []
    assert "4 of 12" in safety_problems(_plan(12, deletes))[0]
    assert safety_problems(_plan(9, deletes)) == []  # fewer than 10 items: no threshold


def test_apex_ns_and_dnskey_need_force_only_on_a_live_zone() -> None:
    ns = RRset(ZONE, "NS", 300, ("ns1.example.net.",))
    key = RRset(ZONE, "DNSKEY", 300, ("257 3 13 AAAA",))
    below = RRset(f"sub.{ZONE}", "NS", 300, ("ns1.example.net.",))
    assert safety_problems(_plan(5, [Change(Op.CREATE, ns.path, None, ns)], exists=False)) == []
    assert safety_problems(_plan(5, [Change(Op.UPDATE, ns.path, ns, ns)]))
    assert safety_problems(_plan(5, [Change(Op.DELETE, key.path, key, None)]))
    # A delegation to a sub-zone is an ordinary record.
    assert safety_problems(_plan(5, [Change(Op.CREATE, below.path, None, below)])) == []


def test_sensitive_change_renders_without_its_value() -> None:
    change = Change(Op.UPDATE, "api_token", "old-token", "new-token", sensitive=True)
    text = _plan(1, [change]).render()
    assert "old-token" not in text and "new-token" not in text
    assert "api_token" in text
