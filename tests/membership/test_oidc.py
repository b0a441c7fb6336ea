"""Sign-in through OpenID Connect against a real provider (Authlib's server) on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select

from infrawg.extensions import db
from infrawg.membership.models import LinkedLogin
from tests.conftest import html
from tests.servers.oidc import OIDCProvider, OIDCUser, start_oidc_provider

CALLBACK = "http://localhost/signin/oidc/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    provider = start_oidc_provider([CALLBACK])
    yield provider
    provider.stop()


@pytest.fixture
def app_config(provider):
    return {
        "OIDC_DISCOVERY_URL": provider.metadata_url,
        "OIDC_CLIENT_ID": provider.client_id,
        "OIDC_CLIENT_SECRET": provider.client_secret,
        "OIDC_NAME": "Foundation ID",
    }


def sign_in_at_provider(client, provider, user: OIDCUser, start="/signin/oidc"):
    provider.add_user(user)
    provider.sign_in_as(user.sub)
    to_provider = client.get(start)
    assert to_provider.status_code == 302
    assert to_provider.location.startswith(provider.issuer)
    back = requests.get(to_provider.location, allow_redirects=False, timeout=10)
    assert back.status_code == 302
    return client.get(back.headers["Location"])


def test_sign_in_page_offers_the_configured_provider(client):
    link = html(client.get("/signin")).select_one("a[href='/signin/oidc']")
    assert link.text == "Sign in with Foundation ID"


def test_verified_email_links_the_identity_to_the_existing_account(client, provider, member):
    user = OIDCUser(sub="oidc-mia", email=member.email, email_verified=True)
    response = sign_in_at_provider(client, provider, user)
    assert response.status_code == 303
    assert html(client.get("/dashboard")).select_one("h1").text == f"Hello, {member.name}"
    login = db.session.scalar(select(LinkedLogin).where(LinkedLogin.person_id == member.id))
    assert (login.issuer, login.subject) == (provider.issuer, "oidc-mia")

    # Next time the same identity signs in without looking at the email.
    other = client.application.test_client()
    user = OIDCUser(sub="oidc-mia", email="changed@example.org", email_verified=False)
    assert sign_in_at_provider(other, provider, user).status_code == 303
    assert html(other.get("/dashboard")).select_one("h1").text == f"Hello, {member.name}"


def test_unverified_email_never_links_to_an_account(client, provider, member):
    user = OIDCUser(sub="oidc-impostor", email=member.email, email_verified=False)
    response = sign_in_at_provider(client, provider, user)
    assert response.status_code == 403
    assert "has not verified your email" in html(response).select_one(".message").text
    assert db.session.scalars(select(LinkedLogin)).all() == []
    assert client.get("/dashboard").status_code == 302


def test_unknown_email_is_sent_to_join_first(client, provider):
    user = OIDCUser(sub="oidc-new", email="new@example.org", email_verified=True)
    response = sign_in_at_provider(client, provider, user)
    assert response.status_code == 404
    assert "Apply through the join page" in html(response).select_one(".message").text


def test_signed_in_member_links_and_unlinks_a_login_from_the_account_page(
    client, provider, people, member
):
    people.sign_in(client, member)
    user = OIDCUser(sub="oidc-other-email", email="mia@elsewhere.example", email_verified=False)
    response = sign_in_at_provider(client, provider, user, start="/signin/oidc?link=1")
    assert response.status_code == 303
    page = html(client.get("/account"))
    assert "mia@elsewhere.example" in page.select_one("#logins-heading").find_next("ul").text
    login = db.session.scalar(select(LinkedLogin).where(LinkedLogin.person_id == member.id))
    assert client.post(f"/account/logins/{login.id}/unlink").status_code == 303
    assert db.session.scalars(select(LinkedLogin)).all() == []


def test_oidc_is_refused_clearly_when_not_configured(app, client):
    app.extensions.pop("infrawg_oidc")
    response = client.get("/signin/oidc")
    assert response.status_code == 403
    assert "not configured" in html(response).select_one(".message").text


def test_provider_amr_and_acr_do_not_stand_for_the_second_factor(client, provider, chair):
    """Decided in README "Two-factor sign-in": a provider's word that it used several
    factors (RFC 8176 amr, an acr) is not our second factor; the chair's own is asked for."""
    import pyotp

    from infrawg.membership.models import TotpFactor

    secret = pyotp.random_base32()
    db.session.add(TotpFactor(person_id=chair.id, secret=secret, last_step=0))
    db.session.commit()
    user = OIDCUser(sub="oidc-cleo", email=chair.email, amr=["mfa", "hwk", "otp"], acr="phrh")
    response = sign_in_at_provider(client, provider, user)
    assert response.status_code == 303
    assert response.location.endswith("/signin/two-factor")
    assert client.get("/chair").status_code == 302  # not signed in yet
    done = client.post("/signin/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 303
    assert client.get("/chair").status_code == 200


def test_provider_amr_gives_a_chair_without_a_factor_no_powers(client, provider, people):
    from infrawg.governance.models import Role

    chair = people.make("Oona Chair", roles=(Role.CHAIR,))
    user = OIDCUser(sub="oidc-oona", email=chair.email, amr=["mfa"], acr="phrh")
    response = sign_in_at_provider(client, provider, user)
    assert response.status_code == 303
    assert response.location.endswith("/account/two-factor")
    assert client.get("/chair").status_code == 403
