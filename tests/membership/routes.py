"""Route access rows of the membership area (see tests/route_access.py)."""

from tests.route_access import (
    CHAIR,
    DECIDERS,
    KINDS,
    PUBLIC,
    SIGNED_IN,
    Row,
    post_profile,
    profile,
)

ALL_SIGNED_IN = set(KINDS) - {"anonymous"}
DECIDING = {"staff", "chair"}
MEMBERS_NOW = {"member", "tenant_member", "staff", "chair"}
FORMER = {"board", "former_member"}  # the demo board member is not in the group

ROWS = [
    Row("membership.home", "GET", "/", PUBLIC),
    Row("membership.join", "GET", "/join", PUBLIC),
    Row("membership.join", "POST", "/join", profile(422), {"email": "not-an-email"}),
    Row("membership.join_check_email", "POST", "/join/check-email", PUBLIC, {"email": "x"}),
    Row("membership.confirm", "GET", "/join/confirm/not-a-token", profile(400)),
    Row("membership.confirm", "POST", "/join/confirm/not-a-token", profile(400)),
    Row("membership.dashboard", "GET", "/dashboard", SIGNED_IN),
    Row("membership.status", "GET", "/account/status", SIGNED_IN),
    Row("membership.account", "GET", "/account", SIGNED_IN),
    Row(
        "membership.resend_confirmation",
        "POST",
        "/account/resend-confirmation",
        post_profile(ALL_SIGNED_IN, 409),
    ),
    Row("membership.update_profile", "POST", "/account/profile", post_profile(ALL_SIGNED_IN, 422)),
    Row(
        "membership.change_password", "POST", "/account/password", post_profile(ALL_SIGNED_IN, 422)
    ),
    Row(
        "membership.leave",
        "POST",
        "/account/leave",
        # R4: the tenant_member is the last tenant member of their organisation
        post_profile(MEMBERS_NOW, 303, refused=409) | {"applicant": 409, "tenant_member": 409},
        {"reason": "", "confirmed": "1"},
    ),
    Row("membership.rejoin", "POST", "/account/rejoin", post_profile(FORMER, 303, refused=409)),
    Row("membership.applications", "GET", "/membership/applications", DECIDERS),
    Row(
        "membership.decide",
        "POST",
        lambda w: f"/membership/applications/{w.people['member'].id}/approve",
        post_profile(DECIDING, 409),
    ),
    Row("membership.roster", "GET", "/membership/roster", CHAIR),
    Row("membership.roster", "POST", "/membership/roster", post_profile({"chair"}, 422)),
    Row("membership.drift", "GET", "/membership/drift", DECIDERS),
    Row(
        "membership.resolve_drift",
        "POST",
        "/membership/drift/resolve",
        # not a drift row: a conflict, and nothing changes
        post_profile(DECIDING, 409),
        {"email": "nobody@example.org", "action": "unsubscribe"},
    ),
    Row(
        "membership.remove_drift_exception",
        "POST",
        "/membership/drift/exceptions/999999/remove",
        post_profile(DECIDING, 409),
    ),
    Row("auth.signin", "GET", "/signin", PUBLIC),
    Row("auth.signin", "POST", "/signin", profile(422), {"email": "x@example.org"}),
    Row("auth.signout", "POST", "/signout", post_profile(ALL_SIGNED_IN, 303)),
    Row("auth.request_reset", "GET", "/signin/reset", PUBLIC),
    Row("auth.request_reset", "POST", "/signin/reset", profile(422)),
    Row("auth.reset_password", "GET", "/signin/reset/not-a-token", profile(400)),
    Row("auth.reset_password", "POST", "/signin/reset/not-a-token", profile(400)),
    Row("auth.oidc_start", "GET", "/signin/oidc", profile(403)),
    Row("auth.oidc_callback", "GET", "/signin/oidc/callback", profile(403)),
    Row("auth.end_session", "GET", "/account/sessions/999999/end", profile(404, anonymous=302)),
    Row(
        "auth.end_session",
        "POST",
        "/account/sessions/999999/end",
        post_profile(ALL_SIGNED_IN, 404),
    ),
    Row("auth.end_other_sessions", "GET", "/account/sessions/end-others", SIGNED_IN),
    Row(
        "auth.end_other_sessions",
        "POST",
        "/account/sessions/end-others",
        post_profile(ALL_SIGNED_IN, 303),
        {"confirmed": "1"},
    ),
    Row(
        "auth.unlink_login",
        "POST",
        "/account/logins/999999/unlink",
        post_profile(ALL_SIGNED_IN, 404),
    ),
    # Two-factor sign-in: the second step needs a right password first (404 without one).
    Row("auth.second_factor", "GET", "/signin/two-factor", profile(404)),
    Row("auth.second_factor", "POST", "/signin/two-factor", profile(404), {"code": "123456"}),
    Row("auth.two_factor", "GET", "/account/two-factor", SIGNED_IN),
    Row("auth.add_totp", "GET", "/account/two-factor/totp", SIGNED_IN),
    Row("auth.add_totp", "POST", "/account/two-factor/totp", post_profile(ALL_SIGNED_IN, 422)),
    Row(
        "auth.remove_totp",
        "POST",
        "/account/two-factor/totp/remove",
        post_profile(ALL_SIGNED_IN, 404),
    ),
    Row("auth.add_security_key", "GET", "/account/two-factor/security-keys", SIGNED_IN),
    Row(
        "auth.add_security_key",
        "POST",
        "/account/two-factor/security-keys",
        post_profile(ALL_SIGNED_IN, 422),
        {"name": "key"},
    ),
    Row(
        "auth.remove_security_key",
        "POST",
        "/account/two-factor/security-keys/999999/remove",
        post_profile(ALL_SIGNED_IN, 404),
    ),
    Row(
        "auth.new_recovery_codes",
        "POST",
        "/account/two-factor/recovery-codes",
        # no second factor yet: nothing to make codes for
        post_profile(ALL_SIGNED_IN, 409),
    ),
]
