"""TLS certificates from an ACME CA (RFC 8555) proved by DNS-01 (R12): the engine of the
future `tls` kind.

One engine per configured CA. It keeps its keys outside the database: the account key is a
`file:` secret reference or `account.pem` in the instance's key directory, and each order's
certificate key is a file in `<key directory>/orders/`; files are 0600 in a 0700 directory.

An order runs as a series of job calls, each short, with the state in between held as JSON
(`OrderState.to_json`): no secret is in it, only the path of the order's key file.

    engine = AcmeEngine(config, caa_resolver=resolver)
    order = engine.start_order(["example.org", "*.example.org"])   # CAA checked first
    engine.publish(order, solver)        # TXT values by value, wait until served
    engine.answer(order)                 # tell the CA to look
    result = engine.poll(order)          # Pending | IssuedCertificate | OrderFailed
    engine.withdraw(order, solver)       # remove the TXT values again

Renewal is due when a third of the lifetime is left, or inside the CA's ACME Renewal
Information window (RFC 9773) when its directory offers `renewalInfo` (Debian's pebble 2.4 does
not; the lifetime rule then decides). A decommissioned certificate is revoked (`revoke`).
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import dns.exception
import dns.name
import dns.resolver
import josepy as jose
import requests
from acme import challenges, crypto_util, errors, messages
from acme.client import ClientNetwork, ClientV2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from infrawg.errors import Invalid
from infrawg.jobs import Pending
from infrawg.provisioning.base import ProviderError
from infrawg.provisioning.secrets import Secret

__all__ = [
    "REASON_CESSATION_OF_OPERATION",
    "AcmeConfig",
    "AcmeEngine",
    "AcmeError",
    "AcmeRefused",
    "CaaForbids",
    "CaaVerdict",
    "Dns01Challenge",
    "DnsChallengeSolver",
    "IssuedCertificate",
    "OrderFailed",
    "OrderState",
    "PollResult",
    "RenewalDecision",
    "caa_allows",
    "explain_problem",
    "renewal_point",
]

# RFC 5280 CRLReason cessationOfOperation: the service the certificate served is gone.
REASON_CESSATION_OF_OPERATION = 5
# How soon a job should look again while the CA validates or issues.
DEFAULT_RETRY = timedelta(seconds=2)
MAX_RETRY = timedelta(minutes=5)


# -- what the engine depends on --------------------------------------------------------------


@runtime_checkable
class DnsChallengeSolver(Protocol):
    """What a DNS provider offers so the site can prove control of a name it hosts.

    Owners are absolute names (`_acme-challenge.example.org.`). Values are added and removed
    one by one, never by replacing the RRset: an apex and a wildcard certificate for the same
    name need two TXT values side by side at one owner.
    """

    def add_txt(self, owner: str, value: str) -> None:
        """Publish one TXT value at `owner`, leaving other values there in place."""

    def remove_txt(self, owner: str, value: str) -> None:
        """Remove one TXT value at `owner`; other values stay."""

    def wait_until_visible(self, owner: str, value: str, timeout: float) -> bool:
        """Wait until the zone's authoritative servers answer with the value; False when
        `timeout` seconds pass first."""


class AcmeError(ProviderError):
    """The CA could not be reached or answered something we cannot use; a job may retry."""


class AcmeRefused(AcmeError):
    """The CA answered a request with a problem document; the message explains it in plain
    words, `problem` is the document as the CA sent it and `code` its ACME error code."""

    def __init__(self, problem: messages.Error) -> None:
        super().__init__(explain_problem(problem))
        self.problem = _problem_json(problem)
        self.code = problem.code or ""


class CaaForbids(Invalid):
    """CAA records forbid our CA for a name; nothing was ordered."""


@dataclass(frozen=True)
class AcmeConfig:
    """One ACME CA account.

    `key_directory` holds `account.pem` (unless `account_key` is a secret reference to the
    account's PEM key) and the keys of orders in flight. `ca_identities` are the issuer domain
    names the CA checks in CAA records (Let's Encrypt: "letsencrypt.org"). `ca_bundle` is a
    PEM file to verify the CA's HTTPS certificate with, for a private or test CA.
    """

    directory_url: str
    key_directory: Path
    ca_identities: tuple[str, ...] = ()
    account_key: Secret | None = None
    contact_email: str = ""
    ca_bundle: str = ""
    timeout: int = 30


# -- the order's state between job calls ------------------------------------------------------


@dataclass(frozen=True)
class Dns01Challenge:
    """One name's DNS-01 challenge: publish `value` as TXT at `owner`."""

    identifier: str  # "example.org" or "*.example.org"
    owner: str  # "_acme-challenge.example.org."
    value: str
    token: str
    challenge_url: str
    authorization_url: str


@dataclass(frozen=True)
class OrderState:
    """An order in flight, as JSON for a job's arguments or a database column.

    No secret is in it: `key_file` is the path of the certificate's private key.
    """

    order_url: str
    names: tuple[str, ...]
    challenges: tuple[Dns01Challenge, ...]
    key_file: str

    def txt_records(self) -> dict[str, tuple[str, ...]]:
        """The TXT values to publish, per owner (an apex and its wildcard share one owner)."""
        records: dict[str, list[str]] = {}
        for challenge in self.challenges:
            records.setdefault(challenge.owner, []).append(challenge.value)
        return {owner: tuple(values) for owner, values in records.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "order_url": self.order_url,
            "names": list(self.names),
            "challenges": [vars(c) for c in self.challenges],
            "key_file": self.key_file,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderState:
        return cls(
            order_url=str(data["order_url"]),
            names=tuple(data["names"]),
            challenges=tuple(Dns01Challenge(**c) for c in data["challenges"]),
            key_file=str(data["key_file"]),
        )


# -- what a poll returns --------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedCertificate:
    """The certificate, its chain up to (not including) the root, and its private key."""

    names: tuple[str, ...]
    fullchain_pem: str
    private_key: Secret
    not_before: datetime
    not_after: datetime
    serial: int

    @property
    def chain(self) -> list[x509.Certificate]:
        """Leaf first, then the intermediates, as the CA sent them."""
        return x509.load_pem_x509_certificates(self.fullchain_pem.encode())

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class OrderFailed:
    """The CA refused: `message` in words a tenant can act on, `problem` as the CA sent it."""

    message: str
    problem: Mapping[str, Any] = field(default_factory=dict)


PollResult = Pending | IssuedCertificate | OrderFailed


@dataclass(frozen=True)
class RenewalDecision:
    """Whether to renew now, from when, and why (`source` is "lifetime" or "ari")."""

    due: bool
    renew_at: datetime
    reason: str
    source: str

    def __bool__(self) -> bool:
        return self.due


@dataclass(frozen=True)
class CaaVerdict:
    """Whether CAA lets our CA issue for every name; `message` explains a refusal."""

    allowed: bool
    message: str = ""

    def __bool__(self) -> bool:
        return self.allowed


# -- the engine -----------------------------------------------------------------------------


class AcmeEngine:
    """Orders, renews and revokes certificates at one ACME CA with one account."""

    def __init__(
        self, config: AcmeConfig, *, caa_resolver: dns.resolver.Resolver | None = None
    ) -> None:
        """`caa_resolver` answers the CAA lookups made before each order (default: the
        system's resolver, read when the first order starts)."""
        self.config = config
        self.caa_resolver = caa_resolver
        self._client: ClientV2 | None = None
        self._key: jose.JWKEC | None = None

    def __repr__(self) -> str:
        return f"<AcmeEngine {self.config.directory_url}>"

    # -- account ---------------------------------------------------------------------------

    @property
    def account_key_path(self) -> Path:
        return Path(self.config.key_directory) / "account.pem"

    def account_key(self) -> jose.JWKEC:
        """The account key: the configured secret, else `account.pem`, made on first use."""
        if self._key is None:
            if self.config.account_key is not None:
                pem = self.config.account_key.reveal().encode()
            else:
                path = self.account_key_path
                if not path.exists():
                    _write_private(path, _new_key_pem())
                pem = path.read_bytes()
            key = serialization.load_pem_private_key(pem, password=None)
            if not (
                isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
            ):
                raise Invalid("The ACME account key must be an EC P-256 key in PEM form.")
            self._key = jose.JWKEC(key=key)
        return self._key

    def client(self) -> ClientV2:
        """A client with the account registered (or found again: same key, same account)."""
        if self._client is None:
            # requests takes a CA bundle path where acme's annotation says only bool.
            verify: bool | str = self.config.ca_bundle or True
            net = ClientNetwork(
                self.account_key(),
                alg=jose.ES256,
                verify_ssl=verify,  # type: ignore[arg-type]
                user_agent="infrawg",
                timeout=self.config.timeout,
            )
            try:
                directory = ClientV2.get_directory(self.config.directory_url, net)
                client = ClientV2(directory, net)
                registration = messages.NewRegistration.from_data(
                    email=self.config.contact_email or None, terms_of_service_agreed=True
                )
                try:
                    client.new_account(registration)
                except errors.ConflictError as existing:
                    net.account = messages.RegistrationResource(
                        uri=existing.location, body=messages.Registration()
                    )
            except messages.Error as exc:
                raise AcmeRefused(exc) from exc
            except (requests.RequestException, errors.Error) as exc:
                raise AcmeError(f"The CA at {self.config.directory_url} failed: {exc}") from exc
            self._client = client
        return self._client

    def account_url(self) -> str:
        account = self.client().net.account
        assert account is not None
        return str(account.uri)

    def offers_renewal_info(self) -> bool:
        """Whether the CA's directory names a `renewalInfo` resource (RFC 9773)."""
        return "renewalInfo" in self.client().directory.to_partial_json()

    # -- orders ----------------------------------------------------------------------------

    def start_order(self, names: Sequence[str]) -> OrderState:
        """Check CAA, make the certificate key, and open an order for `names`.

        Returns the DNS-01 TXT values to publish. Raises `CaaForbids` (nothing ordered) when a
        CAA record forbids our CA, `Invalid` for a name that cannot be in a certificate,
        `AcmeRefused` when the CA will not take the order.
        """
        wanted = _normalise_names(names)
        resolver = self.caa_resolver or dns.resolver.get_default_resolver()
        verdict = caa_allows(wanted, resolver, self.config.ca_identities)
        if not verdict:
            raise CaaForbids(verdict.message)
        client = self.client()
        key_pem = _new_key_pem()
        orders = Path(self.config.key_directory) / "orders"
        key_file = orders / f"{secrets.token_hex(12)}.pem"
        _write_private(key_file, key_pem)
        try:
            order = self._call(lambda: client.new_order(crypto_util.make_csr(key_pem, wanted)))
            found = [self._challenge_for(authz) for authz in order.authorizations]
        except BaseException:
            key_file.unlink(missing_ok=True)
            raise
        return OrderState(
            order_url=str(order.uri),
            names=tuple(wanted),
            challenges=tuple(c for c in found if c is not None),
            key_file=str(key_file),
        )

    def publish(self, order: OrderState, solver: DnsChallengeSolver, timeout: float = 60) -> None:
        """Publish every TXT value and wait until the authoritative servers answer each."""
        for challenge in order.challenges:
            solver.add_txt(challenge.owner, challenge.value)
        for challenge in order.challenges:
            if not solver.wait_until_visible(challenge.owner, challenge.value, timeout):
                raise AcmeError(
                    f"The TXT value for {challenge.identifier} was not served at "
                    f"{challenge.owner} within {timeout:.0f} seconds."
                )

    def withdraw(self, order: OrderState, solver: DnsChallengeSolver) -> None:
        """Remove the order's TXT values (after success or failure alike)."""
        for challenge in order.challenges:
            solver.remove_txt(challenge.owner, challenge.value)

    def answer(self, order: OrderState) -> None:
        """Tell the CA the TXT values are in place. Challenges already answered are skipped,
        so a retried job does no harm."""
        client = self.client()
        key = self.account_key()
        for challenge in order.challenges:
            authz = self._authorization(challenge.authorization_url)
            if authz.body.status != messages.STATUS_PENDING:
                continue
            body = messages.ChallengeBody.from_json(
                {"type": "dns-01", "url": challenge.challenge_url, "token": challenge.token}
            )
            self._call(lambda body=body: client.answer_challenge(body, body.chall.response(key)))

    def poll(self, order: OrderState) -> PollResult:
        """Look at the order once: still validating or issuing (`Pending`, with progress in
        words), issued (`IssuedCertificate`), or refused (`OrderFailed`, in plain words)."""
        response, body = self._order(order.order_url)
        status = body.status
        if status == messages.STATUS_PENDING or status == messages.STATUS_INVALID:
            seen = [(c, self._authorization(c.authorization_url)) for c in order.challenges]
            failed = _failure(seen)
            if failed is not None:
                return failed
            if status == messages.STATUS_INVALID:
                problem = body.error or messages.Error(detail="no reason given")
                return OrderFailed(explain_problem(problem), _problem_json(problem))
            states = [_challenge_status(c, authz) for c, authz in seen]
            valid = states.count(messages.STATUS_VALID)
            if messages.STATUS_PENDING in states:
                text = (
                    "Waiting for the DNS TXT records to be published and the CA to be asked "
                    f"to check them ({valid} of {len(states)} names confirmed)."
                )
            else:
                text = f"The CA is checking the DNS TXT records: {valid} of {len(states)} done."
            return Pending(_retry_after(response), text)
        if status == messages.STATUS_READY:
            body = self._finalize(order, body)
            status = body.status
        if status == messages.STATUS_VALID and body.certificate:
            return self._issued(order, body.certificate)
        if status == messages.STATUS_INVALID:
            problem = body.error or messages.Error(detail="no reason given")
            return OrderFailed(explain_problem(problem), _problem_json(problem))
        return Pending(_retry_after(response), "The CA has checked the names and is issuing.")

    def discard(self, order: OrderState) -> None:
        """Delete the key of an order that will not be finished (failed or abandoned)."""
        Path(order.key_file).unlink(missing_ok=True)

    # -- renewal and revocation ------------------------------------------------------------

    def renewal_due(self, cert_pem: str | bytes, now: datetime) -> RenewalDecision:
        """Whether to renew at `now` (timezone-aware, injected so tests can move the clock).

        With ARI the window the CA suggests decides, from its start (the RFC lets a client pick
        any moment in it; the start keeps the answer reproducible). Without ARI, or when the
        CA's renewal information cannot be fetched, renew once a third of the lifetime is left.
        """
        if now.tzinfo is None:
            raise ValueError("renewal_due needs a timezone-aware time")
        cert = _load_cert(cert_pem)
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        fallback = ""
        if now < not_after and self.offers_renewal_info():
            try:
                start, end = self._renewal_window(cert)
            except (AcmeError, KeyError, ValueError, jose.DeserializationError) as exc:
                fallback = f" (the CA's renewal information could not be read: {exc})"
            else:
                return RenewalDecision(
                    due=now >= start,
                    renew_at=start,
                    reason=f"the CA suggests renewing between {start:%Y-%m-%d %H:%M} and "
                    f"{end:%Y-%m-%d %H:%M} UTC",
                    source="ari",
                )
        at = renewal_point(not_before, not_after)
        return RenewalDecision(
            due=now >= at,
            renew_at=at,
            reason=f"a third of the certificate's lifetime is left from {at:%Y-%m-%d %H:%M} UTC"
            + fallback,
            source="lifetime",
        )

    def revoke(self, cert_pem: str | bytes, reason: int = REASON_CESSATION_OF_OPERATION) -> None:
        """Revoke a certificate this account obtained (on decommission, by default). A
        certificate already revoked is left as it is, so a retried job does no harm."""
        client = self.client()
        cert = _load_cert(cert_pem)
        try:
            self._call(lambda: client.revoke(cert, reason))
        except AcmeRefused as exc:
            if exc.code != "alreadyRevoked":
                raise

    # -- internals -------------------------------------------------------------------------

    def _call(self, fn: Any) -> Any:
        """Run one request; network trouble becomes `AcmeError`, a problem document from the
        CA `AcmeRefused` (explained)."""
        try:
            return fn()
        except requests.RequestException as exc:
            raise AcmeError(f"The CA at {self.config.directory_url} failed: {exc}") from exc
        except messages.Error as exc:
            raise AcmeRefused(exc) from exc
        except errors.Error as exc:
            raise AcmeError(f"The CA at {self.config.directory_url} failed: {exc}") from exc

    def _get(self, url: str) -> requests.Response:
        client = self.client()
        # POST-as-GET (RFC 8555 6.3): every read of an order or authorization is signed.
        response: requests.Response = self._call(
            lambda: client.net.post(url, None, new_nonce_url=client.directory["newNonce"])
        )
        return response

    def _order(self, url: str) -> tuple[requests.Response, messages.Order]:
        response = self._get(url)
        return response, messages.Order.from_json(response.json())

    def _authorization(self, url: str) -> messages.AuthorizationResource:
        response = self._get(url)
        return messages.AuthorizationResource(
            body=messages.Authorization.from_json(response.json()), uri=url
        )

    def _challenge_for(self, authz: messages.AuthorizationResource) -> Dns01Challenge | None:
        if authz.body.status == messages.STATUS_VALID:
            return None  # the CA reused an earlier authorization: nothing to prove
        name = authz.body.identifier.value
        identifier = f"*.{name}" if authz.body.wildcard else name
        for challb in authz.body.challenges:
            if isinstance(challb.chall, challenges.DNS01):
                return Dns01Challenge(
                    identifier=identifier,
                    owner=challb.chall.validation_domain_name(name) + ".",
                    value=challb.chall.validation(self.account_key()),
                    token=challb.chall.encode("token"),
                    challenge_url=challb.uri,
                    authorization_url=str(authz.uri),
                )
        raise AcmeError(f"The CA offers no DNS-01 challenge for {identifier}.")

    def _finalize(self, order: OrderState, body: messages.Order) -> messages.Order:
        client = self.client()
        key_pem = Path(order.key_file).read_bytes()
        resource = messages.OrderResource(
            body=body,
            uri=order.order_url,
            csr_pem=crypto_util.make_csr(key_pem, list(order.names)),
        )
        try:
            finalized: messages.OrderResource = self._call(
                lambda: client.begin_finalization(resource)
            )
        except AcmeRefused as exc:
            if exc.code != "orderNotReady":
                raise
            return body
        return finalized.body

    def _issued(self, order: OrderState, certificate_url: str) -> IssuedCertificate:
        fullchain = self._get(certificate_url).text
        leaf = x509.load_pem_x509_certificates(fullchain.encode())[0]
        key_text = Path(order.key_file).read_text()
        return IssuedCertificate(
            names=order.names,
            fullchain_pem=fullchain,
            private_key=Secret(key_text, f"file:{order.key_file}"),
            not_before=leaf.not_valid_before_utc,
            not_after=leaf.not_valid_after_utc,
            serial=leaf.serial_number,
        )

    def _renewal_window(self, cert: x509.Certificate) -> tuple[datetime, datetime]:
        client = self.client()
        base = client.directory["renewalInfo"].rstrip("/")
        url = f"{base}/{_ari_cert_id(cert)}"
        response = self._call(lambda: client.net.get(url, content_type="application/json"))
        info = messages.RenewalInfo.from_json(response.json())
        window = info.suggested_window
        return _aware(window.start), _aware(window.end)


# -- pure helpers ---------------------------------------------------------------------------


def renewal_point(not_before: datetime, not_after: datetime) -> datetime:
    """When a third of the lifetime is left (day 60 of a 90-day certificate)."""
    return not_after - (not_after - not_before) / 3


# How pebble quotes a failed lookup's DNS response code: "... unsuccessful response: '\\x03'".
_DNS_RCODE = re.compile(r"unsuccessful response: '\\*x([0-9a-f]{2})'")


def explain_problem(problem: messages.Error, challenge: Dns01Challenge | None = None) -> str:
    """The CA's problem document (RFC 8555 6.7) in words a tenant can act on, ending with
    the CA's own words."""
    code = problem.code or ""
    said = problem.detail or problem.title or problem.description or str(problem.typ)
    identifier = problem.identifier.value if problem.identifier is not None else ""
    name = challenge.identifier if challenge is not None else identifier or "the names"
    owner = challenge.owner if challenge is not None else f"_acme-challenge.{name}."
    if code in ("unauthorized", "incorrectResponse"):
        rcode = _DNS_RCODE.search(said)
        if "no txt" in said.lower() or (rcode is not None and int(rcode.group(1), 16) == 3):
            text = (
                f"The CA found no TXT record at {owner}, so it will not issue a certificate "
                f"for {name}. The record may not have been published, or not have reached "
                "every name server yet."
            )
        elif rcode is not None:
            text = (
                f"The CA asked for the TXT record at {owner} and the name servers answered "
                f"with an error, so it will not issue a certificate for {name}."
            )
        else:
            text = (
                f"The CA could not find the TXT value it expected at {owner}, so it will not "
                f"issue a certificate for {name}. The record there may hold the value of an "
                "older request, or the new value may not have reached every name server yet."
            )
    elif code == "dns":
        text = (
            f"The CA could not look up {owner} in DNS (a name server did not answer or "
            f"answered with an error), so it could not check {name}."
        )
    elif code == "caa":
        text = f"A CAA record on the domain of {name} forbids this CA from issuing for it."
    elif code in ("rejectedIdentifier", "unsupportedIdentifier"):
        text = f"The CA will not issue certificates for {name}."
    elif code == "rateLimited":
        text = "The CA is limiting how many certificates we may ask for; we will ask again later."
    elif code == "connection":
        text = f"The CA could not reach the name servers for {name}."
    elif code == "serverInternal":
        text = "The CA had an internal error; we will ask again later."
    elif code == "badCSR":
        text = "The CA refused the certificate request itself; staff have to look at it."
    else:
        text = f"The CA refused the request for {name}."
    return f"{text} (The CA said: {said})"


def caa_allows(
    names: Iterable[str], resolver: dns.resolver.Resolver, ca_identities: Iterable[str]
) -> CaaVerdict:
    """Whether the CAA records (RFC 8659) of every name let a CA with one of `ca_identities`
    (issuer domain names) issue. The relevant records are the first found walking from the
    name towards the root; a wildcard uses `issuewild` where the records have it.

    Raises `AcmeError` when a lookup fails: an unknown CAA answer is not a yes.
    """
    ours = sorted({i.lower().rstrip(".") for i in ca_identities if i})
    refusals: list[str] = []
    for name in _normalise_names(names):
        wildcard = name.startswith("*.")
        found = _relevant_caa(name[2:] if wildcard else name, resolver)
        if found is None:
            continue
        owner, records = found
        tags = {tag for _flags, tag, _value in records}
        tag = "issuewild" if wildcard and "issuewild" in tags else "issue"
        unknown_critical = [t for flags, t, _ in records if flags & 128 and t not in _KNOWN_TAGS]
        if unknown_critical:
            refusals.append(
                f"The CAA records at {owner} carry a critical property this site does not "
                f"understand ({', '.join(sorted(unknown_critical))}), so no certificate may be "
                f"issued for {name}."
            )
            continue
        issuers = [value.split(";")[0].strip().lower() for _f, t, value in records if t == tag]
        if not issuers or any(i in ours for i in issuers):
            continue
        named = sorted({i for i in issuers if i})
        allowed = f"allow only {', '.join(named)}" if named else "allow no CA"
        suggestion = f'{owner} CAA 0 {tag} "{ours[0]}"' if ours else ""
        refusals.append(
            f"The CAA records at {owner} {allowed} to issue certificates for {name}; "
            f"our CA ({', '.join(ours) or 'not configured'}) is not among them, so no "
            "certificate was requested."
            + (f" To allow it, add the record {suggestion} beside the others." if ours else "")
        )
    return CaaVerdict(allowed=not refusals, message=" ".join(refusals))


def _challenge_status(
    challenge: Dns01Challenge, authz: messages.AuthorizationResource
) -> messages.Status:
    if authz.body.status == messages.STATUS_VALID:
        return messages.STATUS_VALID
    for challb in authz.body.challenges:
        if challb.uri == challenge.challenge_url:
            status: messages.Status = challb.status
            return status
    return messages.STATUS_PENDING


def _failure(
    seen: Iterable[tuple[Dns01Challenge, messages.AuthorizationResource]],
) -> OrderFailed | None:
    """The first refused name's problem, explained with the TXT owner it was about."""
    for challenge, authz in seen:
        if authz.body.status != messages.STATUS_INVALID:
            continue
        for challb in authz.body.challenges:
            if challb.uri == challenge.challenge_url and challb.error is not None:
                return OrderFailed(
                    explain_problem(challb.error, challenge), _problem_json(challb.error)
                )
        problem = messages.Error(detail="the authorization is invalid")
        return OrderFailed(explain_problem(problem, challenge), _problem_json(problem))
    return None


_KNOWN_TAGS = frozenset({"issue", "issuewild", "iodef", "issuemail", "contactemail"})


def _relevant_caa(
    name: str, resolver: dns.resolver.Resolver
) -> tuple[str, list[tuple[int, str, str]]] | None:
    candidate = dns.name.from_text(name)
    while candidate != dns.name.root:
        try:
            answer = resolver.resolve(candidate, "CAA", raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            answer = None
        except dns.exception.DNSException as exc:
            raise AcmeError(
                f"The CAA records for {candidate} could not be looked up ({exc}); no "
                "certificate is requested until they can be checked."
            ) from exc
        if answer is not None and answer.rrset is not None and len(answer.rrset):
            records = [
                (
                    int(r.flags),
                    r.tag.decode().lower(),
                    r.value.decode(errors="replace"),
                )
                for r in answer.rrset
            ]
            return candidate.to_text(), records
        candidate = candidate.parent()
    return None


def _normalise_names(names: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for raw in names:
        name = raw.strip().lower().rstrip(".")
        if not name:
            raise Invalid("A certificate name cannot be empty.")
        labels = name.split(".")
        if "*" in name and (labels[0] != "*" or "*" in ".".join(labels[1:]) or len(labels) < 3):
            raise Invalid(
                f"{raw!r}: a wildcard may only be the first label of a name under a domain, "
                "as in *.example.org."
            )
        try:
            dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            raise Invalid(f"{raw!r} is not a DNS name: {exc}") from exc
        if name not in seen:
            seen.append(name)
    if not seen:
        raise Invalid("A certificate needs at least one name.")
    return seen


def _new_key_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> bool:
    """Write a key readable by its owner only, in a 0700 directory, unless `path` exists.

    Written beside and then linked into place, so two jobs making the account key at once
    both end up with the same, complete file. Returns whether this call wrote it.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(partial, path)
    except FileExistsError:
        return False
    finally:
        partial.unlink(missing_ok=True)
    return True


def _load_cert(cert_pem: str | bytes) -> x509.Certificate:
    data = cert_pem.encode() if isinstance(cert_pem, str) else cert_pem
    return x509.load_pem_x509_certificates(data)[0]


def _problem_json(problem: messages.Error) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(problem.json_dumps())
    return data


def _retry_after(response: requests.Response) -> timedelta:
    header = response.headers.get("Retry-After", "")
    try:
        seconds = timedelta(seconds=int(header))
    except ValueError:
        return DEFAULT_RETRY
    return min(max(seconds, timedelta(seconds=1)), MAX_RETRY)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _ari_cert_id(cert: x509.Certificate) -> str:
    """RFC 9773 4.1: base64url(authority key identifier) "." base64url(serial, DER)."""
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    if aki.key_identifier is None:
        raise ValueError("the certificate has no authority key identifier")
    serial = cert.serial_number
    serial_der = serial.to_bytes(math.ceil((serial.bit_length() + 1) / 8), "big", signed=True)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    return f"{b64(aki.key_identifier)}.{b64(serial_der)}"
