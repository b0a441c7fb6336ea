"""R12: TLS certificates obtained, renewed and revoked through the ACME engine, against a real
pebble that validates DNS-01 by asking a real BIND 9 (no mocks, no PEBBLE_VA_ALWAYS_VALID)."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from infrawg.jobs import Pending
from infrawg.provisioning.providers.acme import (
    AcmeEngine,
    CaaForbids,
    ChallengeTargets,
    DnsChallengeSolver,
    IssuedCertificate,
    OrderFailed,
    OrderState,
    PollResult,
    caa_allows,
)
from tests.acme.conftest import ALLOWING_ZONE, CA_IDENTITY, FORBIDDING_ZONE, Rfc2136Solver
from tests.servers.pebble import PebbleServer


def poll_until_done(
    make_engine: Callable[[], AcmeEngine], state: OrderState, timeout: float = 20
) -> tuple[PollResult, list[str]]:
    """Poll as the job runner would: each call a new engine and the state read back from JSON;
    return the final result and the progress texts seen on the way."""
    progress: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        stored = json.loads(json.dumps(state.to_json()))
        result = make_engine().poll(OrderState.from_json(stored))
        if not isinstance(result, Pending):
            return result, progress
        progress.append(result.progress)
        assert result.retry_after > timedelta(0)
        assert time.monotonic() < deadline, f"still pending: {progress[-1]}"
        time.sleep(0.2)


def issue(
    engine: AcmeEngine,
    make_engine: Callable[[], AcmeEngine],
    solver: ChallengeTargets,
    names: list[str],
) -> IssuedCertificate:
    state = engine.start_order(names)
    engine.publish(state, solver, timeout=10)
    try:
        engine.answer(state)
        result, _ = poll_until_done(make_engine, state)
    finally:
        engine.withdraw(state, solver)
    assert isinstance(result, IssuedCertificate), result
    return result


def verify_chain(issued: IssuedCertificate, pebble: PebbleServer) -> None:
    """The leaf chains through the CA's intermediates to pebble's root (signatures, validity,
    TLS server usage and names checked by cryptography's verifier)."""
    from cryptography.x509.verification import PolicyBuilder, Store

    leaf, *intermediates = issued.chain
    name = next(n for n in issued.names if not n.startswith("*."))
    verifier = (
        PolicyBuilder()
        .store(Store(pebble.roots()))
        .time(issued.not_before + timedelta(minutes=1))
        .build_server_verifier(x509.DNSName(name))
    )
    chain = verifier.verify(leaf, intermediates)
    assert chain[-1] in pebble.roots()


def san_names(issued: IssuedCertificate) -> set[str]:
    san = issued.certificate.extensions.get_extension_for_oid(
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME
    ).value
    return set(san.get_values_for_type(x509.DNSName))


def test_r12_dns01_issuance_for_a_hosted_zone(
    engine: AcmeEngine,
    make_engine: Callable[[], AcmeEngine],
    solver: Rfc2136Solver,
    acme_zone: str,
    pebble: PebbleServer,
) -> None:
    name = f"www.{acme_zone}"
    assert isinstance(solver.provider, DnsChallengeSolver)  # the one protocol

    state = engine.start_order([name])
    (challenge,) = state.challenges
    assert challenge.owner == f"_acme-challenge.{name}."
    # The state a job carries between calls is plain JSON and holds no key.
    stored = json.dumps(state.to_json())
    assert "PRIVATE KEY" not in stored
    assert OrderState.from_json(json.loads(stored)) == state
    # Before the CA is told to look, the order waits for us.
    waiting = make_engine().poll(state)
    assert isinstance(waiting, Pending)
    assert waiting.progress == (
        "Waiting for the DNS TXT records to be published and the CA to be asked to check "
        "them (0 of 1 names confirmed)."
    )

    engine.publish(state, solver, timeout=10)
    assert challenge.value in solver.served(challenge.owner)
    make_engine().answer(OrderState.from_json(json.loads(stored)))
    result, _ = poll_until_done(make_engine, state)
    engine.withdraw(state, solver)

    assert isinstance(result, IssuedCertificate), result
    assert san_names(result) == {name}
    assert "PRIVATE KEY" in result.private_key.reveal()
    assert "PRIVATE KEY" not in repr(result)
    verify_chain(result, pebble)
    assert solver.served(challenge.owner) == set()
    # Keys live in files readable by their owner only, never in the state or the database.
    for key in (engine.account_key_path, Path(state.key_file)):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(engine.account_key_path.parent.stat().st_mode) == 0o700
    # The same key finds the same account again.
    assert make_engine().account_url() == engine.account_url()


def test_r12_wildcard_and_apex_side_by_side(
    engine: AcmeEngine,
    make_engine: Callable[[], AcmeEngine],
    solver: Rfc2136Solver,
    acme_zone: str,
    pebble: PebbleServer,
) -> None:
    state = engine.start_order([acme_zone, f"*.{acme_zone}"])
    owner = f"_acme-challenge.{acme_zone}."
    assert {c.identifier for c in state.challenges} == {acme_zone, f"*.{acme_zone}"}
    assert {c.owner for c in state.challenges} == {owner}
    values = state.txt_records()[owner]
    assert len(set(values)) == 2

    engine.publish(state, solver, timeout=10)
    # Both values are served at once at the one owner.
    assert solver.served(owner) == set(values)
    engine.answer(state)
    result, _ = poll_until_done(make_engine, state)
    engine.withdraw(state, solver)

    assert isinstance(result, IssuedCertificate), result
    assert san_names(result) == {acme_zone, f"*.{acme_zone}"}
    verify_chain(result, pebble)
    assert solver.served(owner) == set()


def test_r12_wrong_txt_value_is_rejected_by_the_ca(
    engine: AcmeEngine,
    make_engine: Callable[[], AcmeEngine],
    solver: Rfc2136Solver,
    acme_zone: str,
) -> None:
    name = f"shop.{acme_zone}"
    state = engine.start_order([name])
    (challenge,) = state.challenges
    wrong = "x" * len(challenge.value)
    solver.add_txt(challenge.owner, wrong)
    assert solver.wait_until_visible(challenge.owner, wrong, 10)
    engine.answer(state)
    result, _ = poll_until_done(make_engine, state)
    solver.remove_txt(challenge.owner, wrong)
    engine.discard(state)

    assert isinstance(result, OrderFailed), result
    assert result.message.startswith(
        f"The CA could not find the TXT value it expected at _acme-challenge.{name}., "
        f"so it will not issue a certificate for {name}."
    )
    assert "(The CA said: " in result.message
    assert result.problem["type"] == "urn:ietf:params:acme:error:unauthorized"
    assert not Path(state.key_file).exists()

    # No record at all: the CA says so in its own terms (NXDOMAIN), and we in ours.
    missing = engine.start_order([f"blog.{acme_zone}"])
    engine.answer(missing)
    result, _ = poll_until_done(make_engine, missing)
    engine.discard(missing)
    assert isinstance(result, OrderFailed), result
    assert result.message.startswith(
        f"The CA found no TXT record at _acme-challenge.blog.{acme_zone}., so it will not "
        f"issue a certificate for blog.{acme_zone}."
    )


def test_r12_renewal_due_after_two_thirds_with_injected_clock(
    engine: AcmeEngine,
    make_engine: Callable[[], AcmeEngine],
    solver: Rfc2136Solver,
    acme_zone: str,
    pebble: PebbleServer,
) -> None:
    name = f"mail.{acme_zone}"
    first = issue(engine, make_engine, solver, [name])
    lifetime = first.not_after - first.not_before
    # Debian's pebble 2.4 offers no renewalInfo (ARI), so the lifetime rule decides.
    assert not engine.offers_renewal_info()

    early = engine.renewal_due(first.fullchain_pem, first.not_before + lifetime * 0.6)
    assert not early.due
    assert early.source == "lifetime"
    assert early.renew_at == first.not_after - lifetime / 3
    late = engine.renewal_due(first.fullchain_pem, first.not_before + lifetime * 0.7)
    assert late.due
    assert "a third of the certificate's lifetime is left" in late.reason

    second = issue(engine, make_engine, solver, [name])
    assert second.serial != first.serial
    assert san_names(second) == {name}
    verify_chain(second, pebble)
    assert not engine.renewal_due(second.fullchain_pem, second.not_before + lifetime * 0.1)


def test_r12_revocation(
    engine: AcmeEngine,
    make_engine: Callable[[], AcmeEngine],
    solver: Rfc2136Solver,
    acme_zone: str,
    pebble: PebbleServer,
) -> None:
    issued = issue(engine, make_engine, solver, [f"old.{acme_zone}"])
    assert pebble.cert_status(issued.serial)["Status"] == "Valid"

    make_engine().revoke(issued.fullchain_pem)

    status = pebble.cert_status(issued.serial)
    assert status["Status"] == "Revoked"
    assert status["Reason"] == 5  # cessationOfOperation: the service was decommissioned
    # A retried decommission job finds it revoked already and does no harm.
    make_engine().revoke(issued.fullchain_pem)


def test_r12_caa_forbidding_our_ca_refuses_with_a_message(
    engine: AcmeEngine, resolver, pebble: PebbleServer
) -> None:
    forbidding = FORBIDDING_ZONE.rstrip(".")
    with pytest.raises(CaaForbids) as refused:
        engine.start_order([f"www.{forbidding}"])
    assert str(refused.value) == (
        f"The CAA records at {FORBIDDING_ZONE} allow only letsencrypt.org to issue certificates "
        f"for www.{forbidding}; our CA ({CA_IDENTITY}) is not among them, so no certificate was "
        f'requested. To allow it, add the record {FORBIDDING_ZONE} CAA 0 issue "{CA_IDENTITY}" '
        "beside the others."
    )
    # Nothing was ordered: no key was made for it.
    assert not (engine.account_key_path.parent / "orders").exists()

    allowing = ALLOWING_ZONE.rstrip(".")
    assert caa_allows([allowing, f"www.{allowing}"], resolver, [CA_IDENTITY])
    # issuewild ";" forbids every CA for wildcards even where issue names ours.
    wild = caa_allows([f"*.{allowing}"], resolver, [CA_IDENTITY])
    assert not wild
    assert wild.message.startswith(
        f"The CAA records at {ALLOWING_ZONE} allow no CA to issue certificates for *.{allowing};"
    )
