"""Signing in and out, password reset, and OpenID Connect through Authlib."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import (
    Flask,
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import current_user, logout_user
from requests.exceptions import RequestException

from infrawg.actions import Action
from infrawg.errors import NotAllowed
from infrawg.extensions import db, limiter, login_manager
from infrawg.forms import ConfirmForm
from infrawg.membership import accounts, auth_bp
from infrawg.membership.forms import (
    NewPasswordForm,
    ResetRequestForm,
    SignInForm,
)
from infrawg.membership.models import AccountSession, Person
from infrawg.membership.twofactor_views import after_first_factor, start_session
from infrawg.policy import public, signed_in
from infrawg.web import confirm_first, form_or_refused, redirect_after_post, refused, render, submit

LINK_INTENT = "oidc_link_person"


def load_user(user_id: str) -> Person | None:
    """Flask-Login loader: the id names a server-side session; an ended one signs no one in."""
    person_id, _, token = user_id.partition(":")
    if not person_id.isdigit() or not token:
        return None
    return accounts.person_for_session(int(person_id), token)


__all__ = ["start_session"]  # the membership views sign a confirmed joiner in with it


@auth_bp.before_app_request
def _note_last_seen() -> None:
    # At the start of the request, before the view changes anything: the commit holds only
    # the new "last seen", and it happens at most once per LAST_SEEN_EVERY per session.
    if request.endpoint == "static" or not current_user.is_authenticated:
        return
    record = current_user.signed_in_session
    if record is not None and accounts.touch_session(record):
        db.session.commit()


def _unauthorized():
    target = url_for("auth.signin", next=request.full_path.rstrip("?"))
    if getattr(request, "htmx", None):
        # A sign-in page swapped into a table row helps nobody: send the whole page there.
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    flash("Please sign in to see that page.", "info")
    return redirect(target)


def register_oidc(app: Flask) -> None:
    login_manager.login_view = "auth.signin"
    login_manager.unauthorized_handler(_unauthorized)
    if app.config.get("OIDC_CLIENT_ID") and app.config.get("OIDC_DISCOVERY_URL"):
        # One OAuth registry per app: Authlib caches clients by name.
        app.extensions["infrawg_oidc"] = OAuth(app).register(
            name="oidc",
            server_metadata_url=app.config["OIDC_DISCOVERY_URL"],
            client_id=app.config["OIDC_CLIENT_ID"],
            client_secret=app.config["OIDC_CLIENT_SECRET"],
            client_kwargs={"scope": "openid email profile"},
        )


def _oidc_client():
    client = current_app.extensions.get("infrawg_oidc")
    if client is None:
        raise NotAllowed("Sign-in with an identity provider is not configured on this site.")
    return client


def _safe_next(target: str | None) -> str:
    # Only paths on this site: never an open redirect.
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("membership.dashboard")


def _signin_limit() -> str:
    return current_app.config["RATELIMIT_SIGNIN"]


def _signin_account_limit() -> str:
    return current_app.config["RATELIMIT_SIGNIN_ACCOUNT"]


def _reset_limit() -> str:
    return current_app.config["RATELIMIT_RESET"]


def _reset_account_limit() -> str:
    return current_app.config["RATELIMIT_RESET_ACCOUNT"]


def submitted_email_key() -> str:
    """Rate-limit key of the email a form names: attempts on one account from many
    addresses add up. Hashed, so the limiter's storage holds no addresses."""
    email = (request.form.get("email") or "").strip().lower()
    return "email:" + hashlib.sha256(email.encode()).hexdigest()


def _failed_sign_in(response: Response) -> bool:
    # A successful sign-in (the 303 onwards) counts against no one.
    return response.status_code != 303


@auth_bp.route("/signin", methods=["GET", "POST"])
@public
@limiter.limit(_signin_limit, methods=["POST"], deduct_when=_failed_sign_in)
@limiter.limit(
    _signin_account_limit,
    methods=["POST"],
    key_func=submitted_email_key,
    deduct_when=_failed_sign_in,
)
def signin():
    form = SignInForm()

    def signin_page(status: int = 200):
        return render(
            "membership/signin.html",
            status=status,
            form=form,
            oidc_name=current_app.config["OIDC_NAME"]
            if current_app.config.get("OIDC_CLIENT_ID")
            else None,
        )

    def welcome(person: Person):
        # A second factor, when the person has one, comes before the session opens.
        return after_first_factor(
            person, bool(form.remember.data), _safe_next(request.args.get("next"))
        )

    if not form.is_submitted():
        return signin_page()
    return submit(
        form,
        lambda: accounts.authenticate(form.email.data, form.password.data),
        done=welcome,
        again=form_or_refused(signin_page),
        field="password",
    )


@auth_bp.post("/signout")
@signed_in
def signout():
    return submit(ConfirmForm(), _end_this_session, done=_signed_out, again=refused)


def _end_this_session() -> None:
    # The row goes first (committed before _signed_out): a copy of the session or
    # remember-me cookie then signs no one in.
    record = current_user.signed_in_session
    if record is not None:
        accounts.end_session(current_user, record, Action.ACCOUNT_SIGNED_OUT)


def _signed_out(_: None = None):
    logout_user()
    return redirect_after_post(url_for("membership.home"), "You are signed out.")


def _session_page(record: AccountSession | None = None, status: int = 200):
    return render(
        "membership/session_end.html",
        status=status,
        record=record,
        current=current_user.signed_in_session,
        form=ConfirmForm(),
    )


@auth_bp.route("/account/sessions/<int:session_id>/end", methods=["GET", "POST"])
@signed_in
def end_session(session_id: int):
    """End one session of one's own, after a confirmation page."""
    record = accounts.get_session(current_user, session_id)
    if (asking := confirm_first(lambda: _session_page(record))) is not None:
        return asking
    current = current_user.signed_in_session
    if current is not None and record.id == current.id:
        return submit(ConfirmForm(), _end_this_session, done=_signed_out, again=refused)
    return submit(
        ConfirmForm(),
        lambda: accounts.end_session(current_user, record, Action.ACCOUNT_SESSION_ENDED),
        done=lambda _: redirect_after_post(url_for("membership.account"), "That session is ended."),
        again=refused,
    )


@auth_bp.route("/account/sessions/end-others", methods=["GET", "POST"])
@signed_in
def end_other_sessions():
    """End every session but this browser's, after a confirmation page."""
    if (asking := confirm_first(_session_page)) is not None:
        return asking

    def ended(count: int):
        message = f"{count} other session(s) ended." if count else "There was no other session."
        return redirect_after_post(url_for("membership.account"), message)

    return submit(
        ConfirmForm(),
        lambda: accounts.end_other_sessions(current_user),
        done=ended,
        again=refused,
    )


@auth_bp.route("/signin/reset", methods=["GET", "POST"])
@public
@limiter.limit(_reset_limit, methods=["POST"])
@limiter.limit(_reset_account_limit, methods=["POST"], key_func=submitted_email_key)
def request_reset():
    form = ResetRequestForm()

    def reset_page(status: int = 200):
        return render("membership/reset_request.html", status=status, form=form)

    if not form.is_submitted():
        return reset_page()
    return submit(
        form,
        lambda: accounts.request_password_reset(form.email.data),
        done=lambda _: render("membership/reset_sent.html", email=form.email.data),
        again=form_or_refused(reset_page),
        field="email",
    )


@auth_bp.route("/signin/reset/<token>", methods=["GET", "POST"])
@public
@limiter.limit(_reset_limit, methods=["POST"])
def reset_password(token: str):
    person = accounts.person_for_reset(token)
    form = NewPasswordForm()

    def reset_page(status: int = 200):
        return render("membership/reset_password.html", status=status, form=form, person=person)

    def password_set(person: Person):
        # The mailed link stands for the password only: a second factor is still asked.
        flash("Your password is set.", "ok")
        return after_first_factor(person, False, url_for("membership.dashboard"))

    if not form.is_submitted():
        return reset_page()
    return submit(
        form,
        lambda: accounts.reset_password(token, form.password.data),
        done=password_set,
        again=form_or_refused(reset_page),
        field="password",
    )


@auth_bp.get("/signin/oidc")
@public
def oidc_start():
    client = _oidc_client()
    if current_user.is_authenticated and request.args.get("link"):
        session[LINK_INTENT] = current_user.id
    else:
        session.pop(LINK_INTENT, None)
    return client.authorize_redirect(url_for("auth.oidc_callback", _external=True))


@auth_bp.get("/signin/oidc/callback")
@public
def oidc_callback():
    client = _oidc_client()
    try:
        token = client.authorize_access_token()
    except (OAuthError, RequestException, ValueError) as error:
        raise NotAllowed(f"The identity provider did not sign you in: {error}") from None
    claims = token.get("userinfo") or {}
    issuer = client.load_server_metadata().get("issuer", "")
    linking = session.pop(LINK_INTENT, None)
    current = current_user if current_user.is_authenticated and linking == current_user.id else None

    def welcome(person: Person):
        if current is not None:
            return redirect_after_post(url_for("membership.account"), "The login is linked.")
        # The provider's amr/acr claims do not stand for our second factor (README,
        # "Two-factor sign-in"): the person's own factor is asked for as after a password.
        return after_first_factor(person, False, url_for("membership.dashboard"))

    # Not a form: the provider's answer, whose refusals are the error page.
    return submit(
        None,
        lambda: accounts.oidc_sign_in(claims, issuer, current),
        done=welcome,
        again=refused,
    )


@auth_bp.post("/account/logins/<int:login_id>/unlink")
@signed_in
def unlink_login(login_id: int):
    return submit(
        ConfirmForm(),
        lambda: accounts.unlink_login(current_user, login_id),
        done=lambda _: redirect_after_post(url_for("membership.account"), "The login is unlinked."),
        again=refused,
    )
