"""The ACME engine's pure parts, without a CA: names, keys, ARI identifiers, explanations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from acme import messages
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from infrawg.errors import Invalid
from infrawg.provisioning.providers.acme import (
    AcmeConfig,
    AcmeEngine,
    Dns01Challenge,
    ari_cert_id,
    explain_problem,
    normalise_names,
    renewal_point,
)
from infrawg.provisioning.providers.acme.engine import write_private
from infrawg.provisioning.secrets import resolve_secret

CHALLENGE = Dns01Challenge(
    identifier="*.example.org",
    owner="_acme-challenge.example.org.",
    value="v",
    token="t",
    challenge_url="https://ca/chall",
    authorization_url="https://ca/authz",
)


def test_ari_certificate_identifier_matches_rfc_9773_example() -> None:
    # RFC 9773 section 4.1: AKI 69:88:5B:...:C8:D4 and serial 00:87:65:43:21.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.org")])
    aki = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x87654321)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.AuthorityKeyIdentifier(aki, None, None), critical=False)
        .sign(key, hashes.SHA256())
    )
    assert ari_cert_id(cert) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


def test_renewal_point_is_when_a_third_is_left() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert renewal_point(start, start + timedelta(days=90)) == start + timedelta(days=60)


def test_names_are_normalised_and_bad_wildcards_refused() -> None:
    assert normalise_names(["WWW.Example.org.", "www.example.org", "*.example.org"]) == [
        "www.example.org",
        "*.example.org",
    ]
    for bad in ("a.*.example.org", "*.org", "w*.example.org", ""):
        with pytest.raises(Invalid):
            normalise_names([bad])


@pytest.mark.parametrize(
    ("problem", "expected"),
    [
        (
            {
                "type": "urn:ietf:params:acme:error:unauthorized",
                "detail": "Correct value not found for DNS challenge",
            },
            "The CA could not find the TXT value it expected at _acme-challenge.example.org., "
            "so it will not issue a certificate for *.example.org.",
        ),
        (
            {"type": "urn:ietf:params:acme:error:dns", "detail": "SERVFAIL"},
            "The CA could not look up _acme-challenge.example.org. in DNS",
        ),
        (
            {"type": "urn:ietf:params:acme:error:caa", "detail": "CAA forbids"},
            "A CAA record on the domain of *.example.org forbids this CA",
        ),
        (
            {"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many"},
            "The CA is limiting how many certificates we may ask for",
        ),
    ],
)
def test_problem_documents_are_explained_in_plain_words(
    problem: dict[str, str], expected: str
) -> None:
    text = explain_problem(messages.Error.from_json(problem), CHALLENGE)
    assert text.startswith(expected)
    assert text.endswith(f"(The CA said: {problem['detail']})")


def _engine(tmp_path: Path, account_key: str | None = None) -> AcmeEngine:
    config = AcmeConfig(
        directory_url="https://ca.invalid/dir",
        key_directory=tmp_path / "keys",
        account_key=resolve_secret(account_key) if account_key else None,
    )
    return AcmeEngine(config)


def test_account_key_from_a_file_secret_reference(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "account.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    engine = _engine(tmp_path, f"file:{path}")
    assert engine.account_key().key.private_numbers() == key.private_numbers()
    # The instance key directory is not used when the key comes from a reference.
    assert not engine.account_key_path.exists()


def test_account_key_made_once_in_the_key_directory(tmp_path: Path) -> None:
    first = _engine(tmp_path).account_key()
    assert _engine(tmp_path).account_key().thumbprint() == first.thumbprint()
    assert oct(_engine(tmp_path).account_key_path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in (tmp_path / "keys").iterdir()] == ["account.pem"]


def test_an_rsa_account_key_is_refused_with_a_message(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "rsa.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    with pytest.raises(Invalid, match="EC P-256"):
        _engine(tmp_path, f"file:{path}").account_key()


def test_a_key_file_is_written_once_even_when_two_jobs_race(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "account.pem"
    assert write_private(path, b"first")
    assert not write_private(path, b"second")
    assert path.read_bytes() == b"first"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert [p.name for p in path.parent.iterdir()] == ["account.pem"]
