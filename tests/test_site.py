"""What every page shares: security headers, error pages, access that fails closed."""

from __future__ import annotations

import pytest

from infrawg.extensions import db
from infrawg.policy import public
from tests.conftest import html


def test_pages_send_a_strict_content_security_policy(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "HX-Request" in response.headers["Vary"]


def test_no_page_has_inline_scripts_or_styles(client, people, chair):
    people.sign_in(client, chair)
    for url in ["/", "/join", "/dashboard", "/account", "/audit", "/membership/applications"]:
        page = html(client.get(url))
        assert all(script.get("src") for script in page.select("script")), url
        assert not page.select("[style]"), url
        assert not page.select("style"), url


def test_htmx_is_vendored_and_the_csrf_token_travels_in_hx_headers(client):
    page = html(client.get("/"))
    assert page.select_one("script[src='/static/htmx.min.js']")
    assert '"X-CSRFToken"' in page.select_one("body")["hx-headers"]
    assert client.get("/static/htmx.min.js").status_code == 200


@pytest.mark.own_app
def test_a_route_that_declares_no_access_shows_nothing(app, people, chair):
    @app.get("/forgot-its-check")
    def forgot_its_check():
        return "secret"

    client = people.sign_in(app.test_client(), chair)
    assert client.get("/forgot-its-check").status_code == 404
    assert app.test_client().get("/forgot-its-check").status_code == 404

    app.view_functions["forgot_its_check"] = public(forgot_its_check)
    assert client.get("/forgot-its-check").status_code == 200


def test_unauthenticated_htmx_request_is_redirected_to_sign_in_not_swapped(client):
    response = client.get("/audit", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/signin?next=/audit")


def test_unknown_page_gets_a_human_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert html(response).select_one("h1").text == "Not found"


def test_an_error_page_offers_a_way_onward(client, people, member):
    page = html(client.get("/no-such-page"))
    onward = {a.text: a["href"] for a in page.select("#error-onward a")}
    assert onward["Sign in"] == "/signin?next=/no-such-page"
    assert onward["Go to the home page"] == "/"

    people.sign_in(client, member)
    response = client.get("/audit/nowhere", headers={"Referer": "http://localhost/dashboard"})
    onward = {a.text: a["href"] for a in html(response).select("#error-onward a")}
    assert onward == {
        "Back to the previous page": "http://localhost/dashboard",
        "Go to your dashboard": "/dashboard",
    }


def test_home_explains_the_group_and_how_to_join(client):
    page = html(client.get("/"))
    assert page.select_one("a.button[href='/join']")
    assert "This year's goals" in page.select_one("#goals-heading").text


# -- nothing leaks: transport, caches, files --------------------------------------------------


def test_hsts_is_sent_only_when_the_base_url_is_https(app, client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    app.config["BASE_URL"] = "https://infra.example.org"
    hsts = client.get("/").headers["Strict-Transport-Security"]
    assert hsts.startswith("max-age=31536000")


def test_confidential_pages_are_never_stored_by_a_cache(client, people, chair):
    people.sign_in(client, chair)
    person = f"/people/{chair.id}"
    for url in ("/audit", "/people", person):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
    assert "no-store" not in client.get("/charter").headers.get("Cache-Control", "")


def test_every_confidential_endpoint_named_for_no_store_exists(app):
    from infrawg.web import NO_STORE_BLUEPRINTS, NO_STORE_ENDPOINTS

    assert set(app.view_functions) >= NO_STORE_ENDPOINTS
    assert set(app.blueprints) >= NO_STORE_BLUEPRINTS


def test_the_instance_directory_and_sqlite_file_are_the_sites_only(tmp_path, monkeypatch):
    import stat

    from infrawg.config import build_config

    monkeypatch.delenv("INFRAWG_DATABASE_URL", raising=False)
    monkeypatch.delenv("INFRAWG_SECRET_KEY", raising=False)
    instance = tmp_path / "fresh" / "instance"
    config = build_config(str(instance))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'infrawg.sqlite'}"
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    for name in ("infrawg.sqlite", "secret_key"):
        assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600, name


# -- bad input never gives a 5xx -----------------------------------------------------------------


@pytest.mark.parametrize("huge", [2**31, 2**63, 10**20])
def test_ids_past_the_database_range_in_a_url_are_not_found(client, people, chair, huge):
    people.sign_in(client, chair)
    for url in (f"/people/{huge}", f"/services/{huge}", f"/goal/{huge}", f"/surveys/{huge}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert html(response).select_one("h1").text == "Not found"
    assert client.post(f"/chair/staff/{huge}/revoke").status_code == 404


def test_the_largest_id_a_column_holds_still_routes(client, people, chair):
    people.sign_in(client, chair)
    assert client.get(f"/people/{2**31 - 1}").status_code == 404  # routed, then not found


def test_a_page_number_past_any_listing_shows_a_page(client, people, chair):
    people.sign_in(client, chair)
    for url in ("/jobs", "/audit", "/people", "/organisations", "/surveys", "/services"):
        response = client.get(f"{url}?page={10**20}")
        assert response.status_code == 200, url
        assert html(response).select_one("h1"), url


def test_a_nul_character_in_a_form_or_query_is_refused_with_a_page(client, people, member):
    for response in (
        client.post("/signin", data={"email": "\x00", "password": "x"}),
        client.get("/archives/search?q=route&sender=a%00b"),
    ):
        assert response.status_code == 400
        assert "NUL character" in html(response).select_one("main").text
    people.sign_in(client, member)
    assert client.post("/account/profile", data={"name": "Mia\x00"}).status_code == 400


def test_a_roster_line_longer_than_csv_accepts_is_a_form_error(client, people, chair):
    import io

    from infrawg.membership.models import RosterEntry

    people.sign_in(client, chair)
    upload = io.BytesIO(b"email\n" + b"x" * (130 * 1024) + b"\n")
    response = client.post("/membership/roster", data={"roster": (upload, "roster.csv")})
    assert response.status_code == 422
    assert "not a CSV list of emails" in html(response).text
    assert db.session.query(RosterEntry).count() == 0


@pytest.mark.parametrize("field", ["owner_id", "survey_id", "links"])
def test_a_goal_naming_an_id_past_the_column_range_is_a_form_error(client, people, chair, field):
    from infrawg.surveys.models import Goal

    people.sign_in(client, chair)
    data = {"year": "2027", "title": "Faster mirrors", field: str(10**20)}
    response = client.post("/goals/new", data=data)
    assert response.status_code == 422
    assert db.session.query(Goal).count() == 0
