"""The ACME engine: one account at one CA; orders, renewal decisions and revocation."""

from __future__ import annotations

import base64
import math
import os
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
from infrawg.provisioning.providers.acme.caa import CaaForbids, caa_allows, normalise_names
from infrawg.provisioning.providers.acme.problems import (
    AcmeError,
    AcmeRefused,
    explain_problem,
    problem_json,
)
from infrawg.provisioning.providers.acme.state import (
    AcmeConfig,
    ChallengeTargets,
    Dns01Challenge,
    IssuedCertificate,
    OrderFailed,
    OrderState,
    PollResult,
    RenewalDecision,
    renewal_point,
)
from infrawg.provisioning.secrets import Secret

__all__ = [
    "DEFAULT_RETRY",
    "REASON_CESSATION_OF_OPERATION",
    "AcmeEngine",
    "ari_cert_id",
    "write_private",
]

# RFC 5280 CRLReason cessationOfOperation: the service the certificate served is gone.
REASON_CESSATION_OF_OPERATION = 5
# How soon a job should look again while the CA validates or issues.
DEFAULT_RETRY = timedelta(seconds=2)
MAX_RETRY = timedelta(minutes=5)


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
                    write_private(path, _new_key_pem())
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
        wanted = normalise_names(names)
        resolver = self.caa_resolver or dns.resolver.get_default_resolver()
        verdict = caa_allows(wanted, resolver, self.config.ca_identities)
        if not verdict:
            raise CaaForbids(verdict.message)
        client = self.client()
        key_pem = _new_key_pem()
        orders = Path(self.config.key_directory) / "orders"
        key_file = orders / f"{secrets.token_hex(12)}.pem"
        write_private(key_file, key_pem)
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

    def publish(self, order: OrderState, targets: ChallengeTargets, timeout: float = 60) -> None:
        """Publish every TXT value, each through the solver `targets` names for its owner,
        and wait until the authoritative servers answer each."""
        for challenge in order.challenges:
            solver, zone = targets(challenge.owner)
            solver.add_txt(zone, challenge.owner, challenge.value)
        for challenge in order.challenges:
            solver, zone = targets(challenge.owner)
            if not solver.wait_for_txt(zone, challenge.owner, challenge.value, timeout):
                raise AcmeError(
                    f"The TXT value for {challenge.identifier} was not served at "
                    f"{challenge.owner} within {timeout:.0f} seconds."
                )

    def withdraw(self, order: OrderState, targets: ChallengeTargets) -> None:
        """Remove the order's TXT values (after success or failure alike)."""
        for challenge in order.challenges:
            solver, zone = targets(challenge.owner)
            solver.remove_txt(zone, challenge.owner, challenge.value)

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
                return OrderFailed(explain_problem(problem), problem_json(problem))
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
            return OrderFailed(explain_problem(problem), problem_json(problem))
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
        url = f"{base}/{ari_cert_id(cert)}"
        response = self._call(lambda: client.net.get(url, content_type="application/json"))
        info = messages.RenewalInfo.from_json(response.json())
        window = info.suggested_window
        return _aware(window.start), _aware(window.end)


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
                    explain_problem(challb.error, challenge), problem_json(challb.error)
                )
        problem = messages.Error(detail="the authorization is invalid")
        return OrderFailed(explain_problem(problem, challenge), problem_json(problem))
    return None


def _new_key_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_private(path: Path, data: bytes) -> bool:
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


def _retry_after(response: requests.Response) -> timedelta:
    header = response.headers.get("Retry-After", "")
    try:
        seconds = timedelta(seconds=int(header))
    except ValueError:
        return DEFAULT_RETRY
    return min(max(seconds, timedelta(seconds=1)), MAX_RETRY)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def ari_cert_id(cert: x509.Certificate) -> str:
    """RFC 9773 4.1: base64url(authority key identifier) "." base64url(serial, DER)."""
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    if aki.key_identifier is None:
        raise ValueError("the certificate has no authority key identifier")
    serial = cert.serial_number
    serial_der = serial.to_bytes(math.ceil((serial.bit_length() + 1) / 8), "big", signed=True)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    return f"{b64(aki.key_identifier)}.{b64(serial_der)}"
