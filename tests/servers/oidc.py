"""A real OpenID Connect provider for the test suite, built on Authlib's server side.

The site signs people in through Authlib's Flask client; these tests point that client at this
provider over real HTTP on loopback, so discovery, the JWKS, the id_token signature, the nonce and
client authentication are all exercised for real. Only the login form is skipped: the provider
approves the authorization request for whichever user `sign_in_as` chose, as an IdP does for a
user who already has a session there.

Usage::

    provider = start_oidc_provider(["http://localhost/signin/oidc/callback"])
    provider.add_user(OIDCUser(sub="u1", email="ada@example.org"))
    provider.sign_in_as("u1")
    ...
    provider.stop()
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, scope_to_list
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from flask import Flask, Response, jsonify
from joserfc.jwk import RSAKey
from werkzeug.serving import BaseWSGIServer, make_server

SCOPES = ["openid", "email", "profile"]
SIGNING_ALG = "RS256"
AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
ID_TOKEN_CLAIMS = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "email",
    "email_verified",
    "name",
    "amr",
    "acr",
]
# RFC 6749 recommends at most ten minutes for an authorization code.
CODE_LIFETIME = 600


@dataclass
class OIDCUser:
    """A person with an account at the provider."""

    sub: str
    email: str
    email_verified: bool = True
    name: str = "Test Person"
    # How the provider says it authenticated the person (RFC 8176 amr values, an acr).
    amr: list[str] | None = None
    acr: str | None = None


@dataclass
class _Client(ClientMixin):
    """The one confidential client registered at the provider (the site under test)."""

    client_id: str
    client_secret: str
    redirect_uris: list[str]
    # UserInfoEndpoint reads this for `userinfo_signed_response_alg`; empty means plain JSON.
    client_metadata: dict[str, Any] = field(default_factory=dict)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            return ""
        return " ".join(s for s in scope_to_list(scope) if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match, as OpenID Connect Core 3.1.2.1 requires: no prefix matching.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # A confidential client: "none" (public-client auth) is refused everywhere.
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class _AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    nonce: str | None
    auth_time: int
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass
class _Token(TokenMixin):
    access_token: str
    scope: str
    client: _Client
    user: OIDCUser
    issued_at: float
    expires_in: int
    revoked: bool = False

    def check_client(self, client: ClientMixin) -> bool:
        return client.get_client_id() == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> OIDCUser:
        return self.user

    def get_client(self) -> _Client:
        return self.client


class _Store:
    """In-memory state shared by the request threads; one lock keeps it consistent."""

    def __init__(self, client: _Client) -> None:
        self.lock = threading.Lock()
        self.client = client
        self.users: dict[str, OIDCUser] = {}
        self.codes: dict[str, _AuthorizationCode] = {}
        self.tokens: dict[str, _Token] = {}
        # Every nonce ever bound to a code, so a replayed authorization request is refused.
        self.nonces: set[tuple[str, str]] = set()
        self.signed_in: str | None = None

    def current_user(self) -> OIDCUser | None:
        with self.lock:
            return self.users.get(self.signed_in) if self.signed_in else None


def _user_info(user: OIDCUser, scope: str) -> UserInfo:
    # The same claims go into the id_token and the userinfo response, filtered by the granted
    # scope. email_verified is passed through untouched: the site must see False when it is False.
    info = UserInfo(
        sub=user.sub,
        name=user.name,
        email=user.email,
        email_verified=user.email_verified,
    ).filter(scope)
    # amr and acr belong to no scope: they travel with every id_token that has them.
    if user.amr is not None:
        info["amr"] = user.amr
    if user.acr is not None:
        info["acr"] = user.acr
    return info


class _Server(AuthorizationServer):
    """Authlib's Flask authorization server, carrying the provider's store and signing key."""

    def __init__(self, app: Flask, store: _Store, issuer: str, key: RSAKey) -> None:
        self.store = store
        self.issuer = issuer
        self.key = key
        super().__init__(app, query_client=self._find_client, save_token=self._save_token)

    def _find_client(self, client_id: str) -> _Client | None:
        client = self.store.client
        return client if client.client_id == client_id else None

    def _save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        record = _Token(
            access_token=token["access_token"],
            scope=token.get("scope", ""),
            client=request.client,
            user=request.user,
            issued_at=time.time(),
            expires_in=int(token["expires_in"]),
        )
        with self.store.lock:
            self.store.tokens[record.access_token] = record


class _CodeGrant(AuthorizationCodeGrant):
    server: _Server

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        payload = request.payload
        nonce = payload.data.get("nonce")
        record = _AuthorizationCode(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=payload.redirect_uri or request.client.get_default_redirect_uri(),
            scope=request.scope or "",
            sub=request.user.sub,
            nonce=nonce,
            auth_time=int(time.time()),
            code_challenge=payload.data.get("code_challenge"),
            code_challenge_method=payload.data.get("code_challenge_method"),
            expires_at=time.time() + CODE_LIFETIME,
        )
        store = self.server.store
        with store.lock:
            store.codes[code] = record
            if nonce:
                store.nonces.add((record.client_id, nonce))

    def query_authorization_code(self, code: str, client: ClientMixin) -> _AuthorizationCode | None:
        with self.server.store.lock:
            record = self.server.store.codes.get(code)
        if record and record.client_id == client.get_client_id() and not record.is_expired():
            return record
        return None

    def delete_authorization_code(self, authorization_code: _AuthorizationCode) -> None:
        # Codes are single use: Authlib deletes it before issuing the token.
        with self.server.store.lock:
            self.server.store.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: _AuthorizationCode) -> OIDCUser | None:
        with self.server.store.lock:
            return self.server.store.users.get(authorization_code.sub)


class _OpenIDCode(OpenIDCode):
    """Adds the id_token to the token response; configured without the deprecated
    `get_jwt_config` so Authlib 1.9 emits no DeprecationWarning."""

    def __init__(self, server: _Server) -> None:
        super().__init__(require_nonce=False)
        self.server = server

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        with self.server.store.lock:
            return (request.payload.client_id, nonce) in self.server.store.nonces

    def resolve_client_private_key(self, client: _Client) -> RSAKey:
        return self.server.key

    def get_client_algorithm(self, client: _Client) -> str:
        return SIGNING_ALG

    def get_client_claims(self, client: _Client) -> dict[str, Any]:
        return {"iss": self.server.issuer, "aud": client.client_id}

    def get_encode_header(self, client: _Client) -> dict[str, Any]:
        # A kid lets the relying party pick the key from the JWKS without guessing.
        return {"alg": SIGNING_ALG, "kid": self.server.key.kid}

    def generate_user_info(self, user: OIDCUser, scope: str) -> UserInfo:
        return _user_info(user, scope)


class _UserInfoEndpoint(UserInfoEndpoint):
    def get_issuer(self) -> str:
        return self.server.issuer

    def generate_user_info(self, user: OIDCUser, scope: str) -> UserInfo:
        return _user_info(user, scope)

    def resolve_private_key(self) -> RSAKey:
        return self.server.key


class _BearerTokenValidator(BearerTokenValidator):
    def __init__(self, store: _Store) -> None:
        super().__init__()
        self.store = store

    def authenticate_token(self, token_string: str) -> _Token | None:
        with self.store.lock:
            return self.store.tokens.get(token_string)


def _discovery(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [SIGNING_ALG],
        "scopes_supported": SCOPES,
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "claims_supported": ID_TOKEN_CLAIMS,
        "code_challenge_methods_supported": CodeChallenge.SUPPORTED_CODE_CHALLENGE_METHOD,
    }


def _create_app(store: _Store, issuer: str, key: RSAKey) -> Flask:
    app = Flask("infrawg-test-oidc-provider")
    app.config["OAUTH2_SCOPES_SUPPORTED"] = SCOPES
    server = _Server(app, store, issuer, key)
    # PKCE is optional (the site is a confidential client) but verified when a client sends it.
    server.register_grant(_CodeGrant, [_OpenIDCode(server), CodeChallenge(required=False)])
    protector = ResourceProtector()
    protector.register_token_validator(_BearerTokenValidator(store))
    server.register_endpoint(_UserInfoEndpoint(resource_protector=protector))

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        return jsonify(_discovery(issuer))

    @app.get("/jwks")
    def jwks() -> Response:
        return jsonify({"keys": [key.as_dict(private=False)]})

    @app.get("/authorize")
    def authorize() -> Response | tuple[str, int, dict[str, str]]:
        user = store.current_user()
        try:
            # Validates client, redirect_uri, response_type, scope and nonce before anything
            # else, so a bad redirect_uri is refused whether or not someone is signed in.
            grant = server.get_consent_grant(end_user=user)
        except OAuth2Error as error:
            # An unregistered redirect_uri yields a 400 here with no Location: never redirect
            # to an address the client did not register.
            return server.handle_error_response(None, error)
        if user is None:
            return (
                "No user is signed in at the test OIDC provider; call sign_in_as(sub) first.\n",
                401,
                {"Content-Type": "text/plain; charset=utf-8"},
            )
        return server.create_authorization_response(grant=grant, grant_user=user)

    @app.post("/token")
    def token() -> Response:
        return server.create_token_response()

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo() -> Response:
        return server.create_endpoint_response("userinfo")

    return app


class OIDCProvider:
    """A running provider with one registered confidential client."""

    def __init__(self, redirect_uris: list[str]) -> None:
        self.client_id = "infrawg-test-client"
        self.client_secret = secrets.token_urlsafe(32)
        self._store = _Store(_Client(self.client_id, self.client_secret, list(redirect_uris)))
        self._key = RSAKey.generate_key(2048, auto_kid=True)
        # Bind first: the issuer (which goes into every id_token) depends on the chosen port,
        # and the app needs the issuer, so the WSGI app is swapped in just after binding.
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, Flask(__name__), threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._server.app = _create_app(self._store, self.issuer, self._key)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # shutdown() waits up to one poll interval; the default 0.5 s adds up over a suite.
            kwargs={"poll_interval": 0.05},
            name="test-oidc-provider",
            daemon=True,
        )
        self._thread.start()

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def redirect_uris(self) -> list[str]:
        return list(self._store.client.redirect_uris)

    def add_user(self, user: OIDCUser) -> None:
        """Create (or replace) an account at the provider."""
        with self._store.lock:
            self._store.users[user.sub] = user

    def sign_in_as(self, sub: str) -> None:
        """Make `sub` the user whose session the provider has: /authorize approves every
        request for them, without a form, until another user signs in or `sign_out` is called."""
        with self._store.lock:
            if sub not in self._store.users:
                raise KeyError(f"no user {sub!r} at the test OIDC provider; add_user() first")
            self._store.signed_in = sub

    def sign_out(self) -> None:
        """End the provider session: /authorize answers 401 again."""
        with self._store.lock:
            self._store.signed_in = None

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_oidc_provider(redirect_uris: list[str]) -> OIDCProvider:
    """Start a provider on a free loopback port that accepts exactly `redirect_uris`."""
    return OIDCProvider(redirect_uris)
