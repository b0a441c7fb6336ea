"""Two-factor sign-in: authenticator apps (TOTP), security keys (WebAuthn), recovery codes.

As in PyPI's Warehouse: a person may add an authenticator app and any number of security
keys; the first factor added comes with ten one-time recovery codes (shown once, stored
as SHA-256). Who *must* have one, and when a privileged act asks again, is decided in
``infrawg.policy`` (``SECOND_FACTOR_ROLES``, ``RECHECK_PERMISSIONS``); this module checks
the factors, records every change (and every failed attempt) in the audit trail and mails
the person. No secret, code or key material goes into the trail or the logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pyotp
import segno
from flask import current_app
from limits import parse
from markupsafe import Markup
from sqlalchemy import delete, func, select
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from infrawg import audit
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid, NotFound, TooManyAttempts
from infrawg.extensions import db, limiter
from infrawg.governance.models import Role, RoleGrant
from infrawg.locks import lock_name
from infrawg.membership.models import Person, RecoveryCode, SecurityKey, TotpFactor
from infrawg.notices.mail import send_mail
from infrawg.text import clean
from infrawg.timeutil import utcnow

ISSUER = "Infra-WG"
RECOVERY_CODES = 10
# A code of the step before or after the current one is accepted (a clock 30 s off, a
# code typed as it changed); anything further is out of sync.
TOTP_WINDOW = 1
_PRIVILEGED = (Role.STAFF, Role.CHAIR, Role.BOARD)


# -- what a person has -----------------------------------------------------------------------


def totp_of(person: Person) -> TotpFactor | None:
    return db.session.scalar(select(TotpFactor).where(TotpFactor.person_id == person.id))


def security_keys_of(person: Person) -> list[SecurityKey]:
    return list(
        db.session.scalars(
            select(SecurityKey)
            .where(SecurityKey.person_id == person.id)
            .order_by(SecurityKey.created_at, SecurityKey.id)
        )
    )


def recovery_codes_left(person: Person) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.person_id == person.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def has_second_factor(person: Person) -> bool:
    """Whether the person signs in with a second factor (an app or a security key)."""
    return totp_of(person) is not None or bool(security_keys_of(person))


def _holds_privileged_role(person: Person) -> bool:
    grant = db.session.scalar(
        select(RoleGrant.id).where(
            RoleGrant.person_id == person.id,
            RoleGrant.ended_at.is_(None),
            RoleGrant.role.in_(_PRIVILEGED),
        )
    )
    return grant is not None


def mark_verified(person: Person, at: datetime | None = None) -> None:
    """The session ``person`` is signed in with passed a second factor now."""
    record = person.signed_in_session
    if record is not None:
        record.second_factor_at = at or utcnow()


def _notify(person: Person, subject: str, what: str) -> None:
    send_mail(person.email, subject, "second_factor_changed", person=person, what=what)


# -- authenticator apps (TOTP) ---------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(person: Person, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=person.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> Markup:
    """The otpauth:// URI as an inline SVG QR code (no script, no image request)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff")
    return Markup(svg)  # noqa: S704  (segno's own markup: the URI is encoded, not embedded)


def _clean_code(code: str | None) -> str:
    return "".join((code or "").split()).replace("-", "").lower()


def totp_step(secret: str, code: str, at: datetime | None = None) -> int | None:
    """The time step whose code ``code`` is, within TOTP_WINDOW of ``at``; else None."""
    code = _clean_code(code)
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    # pyotp reads a naive time as local time: hand it an aware one.
    now = totp.timecode((at or utcnow()).replace(tzinfo=UTC))
    for step in range(now - TOTP_WINDOW, now + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def add_totp(person: Person, secret: str, code: str, at: datetime | None = None) -> list[str]:
    """Add the authenticator app whose ``secret`` the person scanned, proven by a code.

    Returns the new recovery codes when this is the person's first factor (else []).
    """
    if totp_of(person) is not None:
        raise Conflict("An authenticator app is already set up; remove it first to change it.")
    step = totp_step(secret, code, at)
    if step is None:
        raise Invalid(
            "That code does not match. Check the time on your phone and try the next code.",
            field="code",
        )
    first = not has_second_factor(person)
    factor = TotpFactor(person_id=person.id, secret=secret, last_step=step, last_used_at=utcnow())
    db.session.add(factor)
    db.session.flush()
    audit.record(person, Action.TWOFACTOR_TOTP_ADDED, person)
    _notify(person, "An authenticator app was added to your account", "an authenticator app")
    mark_verified(person)
    return generate_recovery_codes(person) if first else []


def remove_totp(person: Person) -> None:
    factor = totp_of(person)
    if factor is None:
        raise NotFound("There is no authenticator app on your account.")
    _check_not_last(person)
    db.session.delete(factor)
    db.session.flush()
    audit.record(person, Action.TWOFACTOR_TOTP_REMOVED, person)
    _notify(person, "An authenticator app was removed from your account", "an authenticator app")
    _forget_recovery_codes_without_factor(person)


def _verify_totp(person: Person, code: str, at: datetime | None = None) -> bool:
    # Read again under the lock verify() holds: a code another request accepted meanwhile
    # is a replay here.
    factor = db.session.scalar(
        select(TotpFactor)
        .where(TotpFactor.person_id == person.id)
        .execution_options(populate_existing=True)
    )
    if factor is None:
        return False
    step = totp_step(factor.secret, code, at)
    # A code works once: a step at or before the last one accepted is a replay.
    if step is None or step <= factor.last_step:
        return False
    factor.last_step = step
    factor.last_used_at = utcnow()
    return True


def _check_not_last(person: Person) -> None:
    keys = len(security_keys_of(person))
    app = 1 if totp_of(person) is not None else 0
    if keys + app <= 1 and _holds_privileged_role(person):
        raise Conflict(
            "Your role needs a second factor: add another one before you remove this one."
        )


def _forget_recovery_codes_without_factor(person: Person) -> None:
    if not has_second_factor(person):
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person.id))


# -- recovery codes --------------------------------------------------------------------------


def _code_hash(code: str) -> str:
    return hashlib.sha256(_clean_code(code).encode()).hexdigest()


def _new_code() -> str:
    raw = secrets.token_hex(6)  # 48 bits, 12 hex digits
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def generate_recovery_codes(person: Person, notify: bool = True) -> list[str]:
    """Ten new recovery codes (the old ones stop working); shown once, stored hashed.

    ``notify=False`` (the demo data) sends no mail."""
    if not has_second_factor(person):
        raise Conflict("Set up an authenticator app or a security key first.")
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person.id))
    codes = [_new_code() for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(person_id=person.id, code_hash=_code_hash(c)) for c in codes)
    audit.record(person, Action.TWOFACTOR_RECOVERY_CODES_GENERATED, person)
    if notify:
        _notify(person, "New recovery codes for your account", "a new set of recovery codes")
    return codes


def _use_recovery_code(person: Person, code: str) -> bool:
    if len(_clean_code(code)) != 12:
        return False
    row = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.person_id == person.id,
            RecoveryCode.code_hash == _code_hash(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = utcnow()
    db.session.flush()
    left = recovery_codes_left(person)
    audit.record(person, Action.TWOFACTOR_RECOVERY_CODE_USED, person, f"{left} left")
    send_mail(
        person.email,
        "A recovery code was used to sign in",
        "recovery_code_used",
        person=person,
        left=left,
    )
    return True


# -- security keys (WebAuthn) ----------------------------------------------------------------


@dataclass(frozen=True)
class RelyingParty:
    """The site as WebAuthn knows it: the host name and the origin of INFRAWG_BASE_URL."""

    id: str
    origin: str

    @classmethod
    def from_config(cls) -> RelyingParty:
        base = urlsplit(current_app.config["BASE_URL"])
        return cls(id=base.hostname or "localhost", origin=f"{base.scheme}://{base.netloc}")


def registration_options(person: Person) -> tuple[str, bytes]:
    """The options for ``navigator.credentials.create`` (JSON) and their challenge."""
    rp = RelyingParty.from_config()
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=ISSUER,
        user_id=str(person.id).encode(),
        user_name=person.email,
        user_display_name=person.name,
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=_b64decode(key.credential_id))
            for key in security_keys_of(person)
        ],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.DISCOURAGED,
        ),
    )
    return options_to_json(options), options.challenge


def add_security_key(person: Person, name: str, credential: str, challenge: bytes) -> list[str]:
    """Register the security key whose answer to ``challenge`` is ``credential`` (JSON).

    Returns the new recovery codes when this is the person's first factor (else [])."""
    name = clean(name, "Give the key a name you will recognise.", limit=100, field="name")
    rp = RelyingParty.from_config()
    try:
        verified = verify_registration_response(
            credential=_credential_json(credential),
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as error:
        raise Invalid(f"The security key's answer was not accepted: {error}") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session.scalar(select(SecurityKey.id).where(SecurityKey.credential_id == credential_id)):
        raise Conflict("That security key is already registered.")
    first = not has_second_factor(person)
    key = SecurityKey(
        person_id=person.id,
        name=name,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
    )
    db.session.add(key)
    db.session.flush()
    audit.record(person, Action.TWOFACTOR_SECURITY_KEY_ADDED, key)
    _notify(person, "A security key was added to your account", f"the security key {name!r}")
    mark_verified(person)
    return generate_recovery_codes(person) if first else []


def remove_security_key(person: Person, key_id: int) -> None:
    key = db.session.scalar(
        select(SecurityKey).where(SecurityKey.id == key_id, SecurityKey.person_id == person.id)
    )
    if key is None:
        raise NotFound("There is no such security key on your account.")
    _check_not_last(person)
    audit.record(person, Action.TWOFACTOR_SECURITY_KEY_REMOVED, key)
    _notify(
        person, "A security key was removed from your account", f"the security key {key.name!r}"
    )
    db.session.delete(key)
    db.session.flush()
    _forget_recovery_codes_without_factor(person)


def authentication_options(person: Person) -> tuple[str | None, bytes]:
    """The options for ``navigator.credentials.get`` (None without keys), and the challenge."""
    keys = security_keys_of(person)
    options = generate_authentication_options(
        rp_id=RelyingParty.from_config().id,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=_b64decode(k.credential_id)) for k in keys
        ],
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    return (options_to_json(options) if keys else None), options.challenge


def _verify_security_key(person: Person, credential: str, challenge: bytes | None) -> bool:
    if not challenge:
        return False
    try:
        data = _credential_json(credential)
        key = db.session.scalar(
            select(SecurityKey).where(
                SecurityKey.person_id == person.id, SecurityKey.credential_id == data["id"]
            )
        )
        if key is None:
            return False
        rp = RelyingParty.from_config()
        verified = verify_authentication_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError):
        return False
    key.sign_count = verified.new_sign_count
    key.last_used_at = utcnow()
    return True


def _credential_json(credential: str) -> dict[str, Any]:
    data = json.loads(credential)
    if not isinstance(data, dict):
        raise ValueError("not a credential")
    return data


def _b64decode(value: str) -> bytes:
    return base64url_to_bytes(value)


# -- checking a second factor ----------------------------------------------------------------


def _attempt_limit():
    return parse(current_app.config["RATELIMIT_SECOND_FACTOR"])


def _attempt_key(person: Person) -> str:
    return f"second-factor:{person.id}"


def verify(
    person: Person,
    *,
    code: str | None = None,
    credential: str | None = None,
    challenge: bytes | None = None,
    at: datetime | None = None,
) -> str:
    """Check a second factor of ``person`` (a TOTP or recovery code, or a security key's
    answer to ``challenge``); on success the session is marked and the kind is returned.

    A failed attempt is recorded, mailed to the person and committed at once (the act it
    guarded is refused, but the attempt stays in the trail); attempts beyond
    INFRAWG_RATELIMIT_SECOND_FACTOR per account are refused without being checked.
    """
    if not code and not credential:
        raise Invalid("Enter the code your app shows, or use your security key.", field="code")
    # Races are rules too: two requests with one code (or one recovery code) check it one
    # after the other, and the second finds it used.
    lock_name(_attempt_key(person))
    limit = _attempt_limit()
    if not limiter.limiter.test(limit, _attempt_key(person)):
        raise TooManyAttempts(
            "Too many wrong second-factor attempts on this account. Wait a while and try again.",
            field="code",
        )
    kind = None
    if credential:
        kind = "security key" if _verify_security_key(person, credential, challenge) else None
    elif code:
        if _verify_totp(person, code, at):
            kind = "authenticator app"
        elif _use_recovery_code(person, code):
            kind = "recovery code"
    if kind is not None:
        mark_verified(person)
        return kind
    db.session.rollback()
    limiter.limiter.hit(limit, _attempt_key(person))
    audit.record(person, Action.TWOFACTOR_FAILED, person, "security key" if credential else "code")
    send_mail(
        person.email,
        "A wrong second-factor code was entered",
        "second_factor_failed",
        person=person,
    )
    db.session.commit()
    raise Invalid("That did not confirm it is you. Try the current code again.", field="code")
