"""The test OIDC provider speaks real OpenID Connect: driven here over HTTP by Authlib's clients."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from flask import Flask, url_for
from joserfc import jwt
from joserfc.jwk import KeySet

from .oidc import OIDCProvider, OIDCUser, start_oidc_provider

REDIRECT_URI = "http://127.0.0.1:9/callback"
# Where a Flask test client's url_for(_external=True) points: the default SERVER_NAME.
FLASK_REDIRECT_URI = "http://localhost/callback"
SCOPE = "openid email profile"
TIMEOUT = 10

ADA = OIDCUser(sub="ada", email="ada@example.org", name="Ada Lovelace")
BOB = OIDCUser(sub="bob", email="bob@example.org", email_verified=False, name="Bob Unverified")


@pytest.fixture
def provider() -> Iterator[OIDCProvider]:
    provider = start_oidc_provider([REDIRECT_URI, FLASK_REDIRECT_URI])
    provider.add_user(ADA)
    provider.add_user(BOB)
    yield provider
    provider.stop()


@pytest.fixture
def metadata(provider: OIDCProvider) -> dict:
    response = requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


def _session(provider: OIDCProvider, auth_method: str = "client_secret_basic") -> OAuth2Session:
    return OAuth2Session(
        provider.client_id,
        provider.client_secret,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method=auth_method,
    )


def _authorize(session: OAuth2Session, metadata: dict, nonce: str) -> tuple[str, str]:
    """Play the browser: ask for authorization, return (redirect Location, state)."""
    url, state = session.create_authorization_url(metadata["authorization_endpoint"], nonce=nonce)
    response = requests.get(url, allow_redirects=False, timeout=TIMEOUT)
    assert response.status_code == 302, response.text
    return response.headers["Location"], state


def _validated_id_token(
    id_token: str, metadata: dict, provider: OIDCProvider, nonce: str, access_token: str
) -> CodeIDToken:
    # What a relying party does: fetch the JWKS, verify the signature, then the claims.
    jwks = requests.get(metadata["jwks_uri"], timeout=TIMEOUT).json()
    decoded = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {"iss": {"values": [provider.issuer]}},
        {"nonce": nonce, "client_id": provider.client_id, "access_token": access_token},
    )
    claims.validate()
    return claims


def test_discovery_document_is_valid_openid_provider_metadata(
    provider: OIDCProvider, metadata: dict
) -> None:
    OpenIDProviderMetadata(metadata).validate()
    assert metadata["issuer"] == provider.issuer
    assert provider.issuer.startswith("http://127.0.0.1:")
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert {"email", "email_verified", "name", "nonce"} <= set(metadata["claims_supported"])


def test_jwks_publishes_only_the_public_rsa_key(metadata: dict) -> None:
    keys = requests.get(metadata["jwks_uri"], timeout=TIMEOUT).json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA"
    assert keys[0]["kid"]
    assert "d" not in keys[0]


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_code_flow_issues_signed_id_token_and_userinfo(
    provider: OIDCProvider, metadata: dict, auth_method: str
) -> None:
    provider.sign_in_as(ADA.sub)
    session = _session(provider, auth_method)
    nonce = secrets.token_urlsafe(16)

    location, state = _authorize(session, metadata, nonce)
    assert location.startswith(REDIRECT_URI + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state]
    assert query["code"]

    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=location, state=state
    )
    assert token["token_type"].lower() == "bearer"
    claims = _validated_id_token(
        token["id_token"], metadata, provider, nonce, token["access_token"]
    )
    assert claims["sub"] == ADA.sub
    assert claims["aud"] == provider.client_id
    assert claims["email"] == ADA.email
    assert claims["email_verified"] is True
    assert claims["name"] == ADA.name
    assert claims["exp"] > claims["iat"]

    userinfo = session.get(metadata["userinfo_endpoint"], timeout=TIMEOUT)
    assert userinfo.status_code == 200
    assert userinfo.json() == {
        "sub": ADA.sub,
        "email": ADA.email,
        "email_verified": True,
        "name": ADA.name,
    }


def test_unverified_email_is_reported_as_unverified(provider: OIDCProvider, metadata: dict) -> None:
    provider.sign_in_as(BOB.sub)
    session = _session(provider)
    nonce = secrets.token_urlsafe(16)
    location, state = _authorize(session, metadata, nonce)
    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=location, state=state
    )

    claims = _validated_id_token(
        token["id_token"], metadata, provider, nonce, token["access_token"]
    )
    assert claims["sub"] == BOB.sub
    assert claims["email_verified"] is False
    userinfo = session.get(metadata["userinfo_endpoint"], timeout=TIMEOUT).json()
    assert userinfo["email_verified"] is False


def test_unregistered_redirect_uri_is_refused_without_redirecting(
    provider: OIDCProvider, metadata: dict
) -> None:
    provider.sign_in_as(ADA.sub)
    session = OAuth2Session(
        provider.client_id,
        provider.client_secret,
        scope=SCOPE,
        redirect_uri="http://127.0.0.1:9/evil",
    )
    url, _ = session.create_authorization_url(metadata["authorization_endpoint"], nonce="n")

    response = requests.get(url, allow_redirects=False, timeout=TIMEOUT)

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.json()["error"] == "invalid_request"


def test_authorize_without_signed_in_user_answers_401(
    provider: OIDCProvider, metadata: dict
) -> None:
    url, _ = _session(provider).create_authorization_url(
        metadata["authorization_endpoint"], nonce="n"
    )

    response = requests.get(url, allow_redirects=False, timeout=TIMEOUT)

    assert response.status_code == 401
    assert "sign_in_as" in response.text

    provider.sign_in_as(ADA.sub)
    provider.sign_out()
    assert requests.get(url, allow_redirects=False, timeout=TIMEOUT).status_code == 401


def test_sign_in_as_unknown_user_is_an_error(provider: OIDCProvider) -> None:
    with pytest.raises(KeyError):
        provider.sign_in_as("nobody")


def test_wrong_client_secret_is_refused(provider: OIDCProvider, metadata: dict) -> None:
    provider.sign_in_as(ADA.sub)
    location, state = _authorize(_session(provider), metadata, "n1")
    impostor = OAuth2Session(
        provider.client_id, "not-the-secret", scope=SCOPE, redirect_uri=REDIRECT_URI
    )

    with pytest.raises(OAuthError, match="invalid_client"):
        impostor.fetch_token(
            metadata["token_endpoint"], authorization_response=location, state=state
        )


def test_authorization_code_is_single_use(provider: OIDCProvider, metadata: dict) -> None:
    provider.sign_in_as(ADA.sub)
    session = _session(provider)
    location, state = _authorize(session, metadata, "n2")
    session.fetch_token(metadata["token_endpoint"], authorization_response=location, state=state)

    with pytest.raises(OAuthError, match="invalid_grant"):
        _session(provider).fetch_token(
            metadata["token_endpoint"], authorization_response=location, state=state
        )


def test_replayed_nonce_is_refused(provider: OIDCProvider, metadata: dict) -> None:
    provider.sign_in_as(ADA.sub)
    session = _session(provider)
    _authorize(session, metadata, "same-nonce")
    url, _ = session.create_authorization_url(
        metadata["authorization_endpoint"], nonce="same-nonce"
    )

    response = requests.get(url, allow_redirects=False, timeout=TIMEOUT)

    # The redirect_uri is valid, so the error goes back to the client, as OAuth requires.
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query)["error"] == ["invalid_request"]


def test_userinfo_requires_a_bearer_token(metadata: dict) -> None:
    response = requests.get(metadata["userinfo_endpoint"], timeout=TIMEOUT)
    assert response.status_code == 401

    response = requests.get(
        metadata["userinfo_endpoint"],
        headers={"Authorization": "Bearer made-up"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 401


def test_authlib_flask_client_signs_in_like_the_site(provider: OIDCProvider) -> None:
    # The same client calls the site's sign-in code makes, so a mismatch shows up here first.
    app = Flask(__name__)
    app.secret_key = "test"
    oauth = OAuth(app)
    oauth.register(
        name="oidc",
        server_metadata_url=f"{provider.issuer}/.well-known/openid-configuration",
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        client_kwargs={"scope": SCOPE},
    )

    @app.get("/signin")
    def signin():
        return oauth.oidc.authorize_redirect(url_for("callback", _external=True))

    @app.get("/callback")
    def callback():
        return oauth.oidc.authorize_access_token()["userinfo"]

    provider.sign_in_as(BOB.sub)
    client = app.test_client()
    to_provider = client.get("/signin")
    assert to_provider.status_code == 302
    back = requests.get(to_provider.location, allow_redirects=False, timeout=TIMEOUT)
    assert back.headers["Location"].startswith(FLASK_REDIRECT_URI + "?")

    signed_in = client.get(back.headers["Location"])

    assert signed_in.status_code == 200
    assert signed_in.json["sub"] == BOB.sub
    assert signed_in.json["email"] == BOB.email
    assert signed_in.json["email_verified"] is False


def test_id_token_carries_the_amr_and_acr_the_user_was_given(
    provider: OIDCProvider, metadata: dict
) -> None:
    # The two-factor tests rely on it: the site sees the provider's amr and acr claims.
    provider.add_user(OIDCUser(sub="mfa-user", email="mfa@example.org", amr=["mfa"], acr="phrh"))
    provider.sign_in_as("mfa-user")
    session = _session(provider)
    nonce = secrets.token_urlsafe(16)
    location, state = _authorize(session, metadata, nonce)
    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=location, state=state
    )
    claims = _validated_id_token(
        token["id_token"], metadata, provider, nonce, token["access_token"]
    )
    assert claims["amr"] == ["mfa"] and claims["acr"] == "phrh"
