"""Two-factor sign-in pages: the second step of signing in, the re-check before a
privileged act, and the account's factors (authenticator app, security keys, codes)."""

from __future__ import annotations

import time
from typing import Any

from flask import Response, current_app, flash, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user
from webauthn import base64url_to_bytes
from webauthn.helpers import bytes_to_base64url

from infrawg import policy
from infrawg.errors import DomainError, Invalid, NotFound, SecondFactorNeeded, TooManyAttempts
from infrawg.extensions import db, limiter
from infrawg.forms import ConfirmForm
from infrawg.membership import accounts, auth_bp, twofactor
from infrawg.membership.forms import SecondFactorForm, SecurityKeyForm, TotpSetupForm
from infrawg.membership.models import Person
from infrawg.policy import public, recent_second_factor, signed_in
from infrawg.web import form_or_refused, redirect_after_post, refused, render, submit

# The browser's session (signed cookie) carries, between the two steps of signing in, who
# gave the right password, and the challenges and TOTP secret of a set-up in progress.
PENDING = "second_factor_pending"
PENDING_FOR = 300  # seconds between the password and the second factor
CHALLENGE = "webauthn_challenge"
TOTP_SECRET = "totp_setup_secret"  # noqa: S105  (a session key)
# The fields the re-check page adds to the privileged act's own form.
RECHECK_CODE = "second_factor_code"
RECHECK_CREDENTIAL = "second_factor_credential"


def start_session(person: Person, remember: bool = False, second_factor: bool = False) -> None:
    """Sign ``person`` in on this browser: a session row, then Flask-Login's cookies."""
    accounts.open_session(person, request.user_agent.string, request.remote_addr, remember)
    if second_factor:
        twofactor.mark_verified(person)
    db.session.commit()
    login_user(person, remember=remember)


def after_first_factor(person: Person, remember: bool, target: str) -> ResponseReturnValue:
    """Where a right password (or an identity provider's answer) leads: the second step
    when the person has a factor; else signed in, asked to set one up if the role needs it."""
    if twofactor.has_second_factor(person):
        session[PENDING] = {
            "person": person.id,
            "remember": remember,
            "next": target,
            "at": int(time.time()),
        }
        return redirect(url_for("auth.second_factor"), code=303)
    start_session(person, remember=remember)
    if policy.needs_second_factor(person):
        flash(
            "Your role needs two-factor sign-in: set up an authenticator app or a security key "
            "before you use its powers.",
            "info",
        )
        return redirect(url_for("auth.two_factor"), code=303)
    return redirect(target, code=303)


def _pending_person() -> tuple[Person, dict[str, Any]]:
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_FOR:
        session.pop(PENDING, None)
        raise NotFound("Sign in with your password first (the second step waits five minutes).")
    person = db.session.get(Person, pending.get("person"))
    if person is None:
        raise NotFound("Sign in with your password first.")
    return person, pending


def _new_challenge(challenge: bytes) -> None:
    session[CHALLENGE] = bytes_to_base64url(challenge)


def _take_challenge() -> bytes | None:
    value = session.pop(CHALLENGE, None)
    return base64url_to_bytes(value) if value else None


def _signin_limit() -> str:
    return current_app.config["RATELIMIT_SIGNIN"]


def _failed(response: Response) -> bool:
    return response.status_code != 303


@auth_bp.route("/signin/two-factor", methods=["GET", "POST"])
@public
@limiter.limit(_signin_limit, methods=["POST"], deduct_when=_failed)
def second_factor():
    person, pending = _pending_person()
    form = SecondFactorForm()
    challenge = _take_challenge() if form.is_submitted() else None

    def step_page(status: int = 200):
        options, new = twofactor.authentication_options(person)
        _new_challenge(new)
        return render(
            "membership/signin_second_factor.html",
            status=status,
            form=form,
            webauthn_options=options,
            has_totp=twofactor.totp_of(person) is not None,
        )

    def welcome(kind: str):
        session.pop(PENDING, None)
        start_session(person, remember=bool(pending.get("remember")), second_factor=True)
        if kind == "recovery code":
            flash(
                f"You signed in with a recovery code; {twofactor.recovery_codes_left(person)} "
                "are left. Make new ones on your account page if you are running out.",
                "info",
            )
        return redirect(pending.get("next") or url_for("membership.dashboard"), code=303)

    if not form.is_submitted():
        return step_page()
    return submit(
        form,
        lambda: twofactor.verify(
            person, code=form.code.data, credential=form.credential.data, challenge=challenge
        ),
        done=welcome,
        again=_again_or_limited(step_page),
        field="code",
    )


def _again_or_limited(show: Any):
    shown = form_or_refused(show)

    def again(status: int, error: DomainError | None) -> ResponseReturnValue:
        if isinstance(error, TooManyAttempts):
            return show(429)
        return shown(status, error)

    return again


# -- the re-check before a privileged act ----------------------------------------------------


def _recheck_page(error: str | None = None, status: int = 401) -> ResponseReturnValue:
    options, challenge = twofactor.authentication_options(current_user)
    _new_challenge(challenge)
    kept = [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name not in {"csrf_token", RECHECK_CODE, RECHECK_CREDENTIAL}
    ]
    body, status = render(
        "membership/second_factor_recheck.html",
        "membership/_second_factor_recheck.html",
        status=status,
        kept=kept,
        action=request.path,
        error=error,
        webauthn_options=options,
        has_totp=twofactor.totp_of(current_user) is not None,
        code_field=RECHECK_CODE,
        credential_field=RECHECK_CREDENTIAL,
    )
    response = current_app.make_response((body, status))
    if getattr(request, "htmx", None):
        # The act's button may sit in a table row: the question takes the whole page.
        response.headers["HX-Retarget"] = "#main"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def handle_second_factor_needed(error: SecondFactorNeeded) -> ResponseReturnValue:
    db.session.rollback()
    return _recheck_page()


@auth_bp.before_app_request
def _recheck_submitted() -> ResponseReturnValue | None:
    """A privileged act posted again from the re-check page, with the code or key's
    answer: check it before the act's own view runs (its form is as it was)."""
    if request.method != "POST" or not current_user.is_authenticated:
        return None
    code = request.form.get(RECHECK_CODE)
    credential = request.form.get(RECHECK_CREDENTIAL)
    if not code and not credential:
        return None
    try:
        twofactor.verify(
            current_user, code=code, credential=credential, challenge=_take_challenge()
        )
    except TooManyAttempts as error:
        return _recheck_page(error.message, 429)
    except Invalid as error:
        return _recheck_page(error.message, 422)
    db.session.commit()
    policy.forget_roles()
    return None


# -- the account's factors ---------------------------------------------------------------------


def _two_factor_page(status: int = 200, **extra: Any):
    return render(
        "membership/two_factor.html",
        status=status,
        totp=twofactor.totp_of(current_user),
        keys=twofactor.security_keys_of(current_user),
        codes_left=twofactor.recovery_codes_left(current_user),
        required=policy.needs_second_factor(current_user)
        or bool(policy.roles_of(current_user) & policy.SECOND_FACTOR_ROLES),
        form=ConfirmForm(),
        **extra,
    )


@auth_bp.get("/account/two-factor")
@signed_in
def two_factor():
    return _two_factor_page()


def _recovery_codes_page(codes: list[str]):
    if not codes:
        return redirect_after_post(url_for("auth.two_factor"), "The second factor is added.")
    # Shown once, never stored in plain text: a page, not a redirect.
    return render("membership/recovery_codes.html", codes=codes)


@auth_bp.route("/account/two-factor/totp", methods=["GET", "POST"])
@signed_in
def add_totp():
    form = TotpSetupForm()
    if not form.is_submitted() or not session.get(TOTP_SECRET):
        session[TOTP_SECRET] = twofactor.new_totp_secret()
    secret = session[TOTP_SECRET]

    def setup_page(status: int = 200):
        uri = twofactor.provisioning_uri(current_user, secret)
        return render(
            "membership/totp_setup.html",
            status=status,
            form=form,
            secret=secret,
            qr=twofactor.qr_svg(uri),
        )

    def added(codes: list[str]):
        session.pop(TOTP_SECRET, None)
        policy.forget_roles()
        return _recovery_codes_page(codes)

    if not form.is_submitted():
        return setup_page()
    return submit(
        form,
        lambda: twofactor.add_totp(current_user, secret, form.code.data),
        done=added,
        again=form_or_refused(setup_page),
        field="code",
    )


@auth_bp.post("/account/two-factor/totp/remove")
@signed_in
@recent_second_factor
def remove_totp():
    return submit(
        ConfirmForm(),
        lambda: twofactor.remove_totp(current_user),
        done=lambda _: redirect_after_post(
            url_for("auth.two_factor"), "The authenticator app is removed."
        ),
        again=refused,
    )


@auth_bp.route("/account/two-factor/security-keys", methods=["GET", "POST"])
@signed_in
def add_security_key():
    form = SecurityKeyForm()
    challenge = _take_challenge() if form.is_submitted() else None

    def key_page(status: int = 200):
        options, new = twofactor.registration_options(current_user)
        _new_challenge(new)
        return render(
            "membership/security_key_setup.html", status=status, form=form, options=options
        )

    def added(codes: list[str]):
        policy.forget_roles()
        return _recovery_codes_page(codes)

    if not form.is_submitted():
        return key_page()
    if challenge is None:
        form.validate()
        form.credential.errors = ["The page expired; ask your security key again."]
        return key_page(422)
    return submit(
        form,
        lambda: twofactor.add_security_key(
            current_user, form.name.data, form.credential.data, challenge
        ),
        done=added,
        again=form_or_refused(key_page),
        field="credential",
    )


@auth_bp.post("/account/two-factor/security-keys/<int:key_id>/remove")
@signed_in
@recent_second_factor
def remove_security_key(key_id: int):
    return submit(
        ConfirmForm(),
        lambda: twofactor.remove_security_key(current_user, key_id),
        done=lambda _: redirect_after_post(
            url_for("auth.two_factor"), "The security key is removed."
        ),
        again=refused,
    )


@auth_bp.post("/account/two-factor/recovery-codes")
@signed_in
@recent_second_factor
def new_recovery_codes():
    return submit(
        ConfirmForm(),
        lambda: twofactor.generate_recovery_codes(current_user),
        done=lambda codes: render("membership/recovery_codes.html", codes=codes),
        again=refused,
    )


def init_app(app: Any) -> None:
    app.register_error_handler(SecondFactorNeeded, handle_second_factor_needed)
