"""What every page shares: security headers, error pages, access that fails closed."""

from __future__ import annotations

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


def test_home_explains_the_group_and_how_to_join(client):
    page = html(client.get("/"))
    assert page.select_one("a.button[href='/join']")
    assert "This year's goals" in page.select_one("#goals-heading").text
