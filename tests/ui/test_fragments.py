"""How an htmx request reports success and failure (infrawg/fragments.py): the helper every
view's successful act answers with, and the error handlers' inline block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask import get_flashed_messages

from infrawg import fragments
from infrawg.extensions import db
from infrawg.governance.models import StaffRequest
from infrawg.policy import public
from tests.conftest import html

HX = {"HX-Request": "true"}
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def hx_from(url: str) -> dict[str, str]:
    """The headers htmx sends from a page at ``url``."""
    return {**HX, "HX-Current-URL": f"http://localhost{url}"}


def out_of_band(fragment: BeautifulSoup) -> BeautifulSoup:
    """What a fragment carries out of band: its <template> (whose content CSS selectors do
    not see, as in a browser), parsed on its own."""
    template = fragment.find("template")
    assert template is not None
    return BeautifulSoup(template.decode_contents(), "html.parser")


# -- the helper ----------------------------------------------------------------------------------


def test_without_htmx_a_successful_act_is_a_303_with_the_message_flashed(app):
    with app.test_request_context("/x", method="POST"):
        response = fragments.redirect_after_post("/chair", "Done.")
        assert (response.status_code, response.location) == (303, "/chair")
        assert get_flashed_messages(with_categories=True) == [("ok", "Done.")]


def test_htmx_going_to_another_page_answers_204_with_hx_redirect(app):
    with app.test_request_context("/services/request", method="POST", headers=hx_from("/x")):
        response = fragments.redirect_after_post("/services/7", "Asked.")
        assert response.status_code == 204
        assert response.headers["HX-Redirect"] == "/services/7"
        assert not response.get_data()
        # The flash waits for the page the browser loads.
        assert get_flashed_messages() == ["Asked."]


def test_htmx_staying_on_its_page_is_followed_and_a_swap_answers_in_place(app):
    headers = hx_from("/services/7?tab=records#records")
    with app.test_request_context("/services/7/records", method="POST", headers=headers):
        response = fragments.redirect_after_post("/services/7")
        assert (response.status_code, response.location) == (303, "/services/7")
    with app.test_request_context("/chair/x", method="POST", headers=hx_from("/dashboard")):
        # A control answered by its own fragment keeps it, whatever the page.
        assert fragments.redirect_after_post("/chair", swap=lambda: ("<tr></tr>", 200)) == (
            "<tr></tr>",
            200,
        )
    boosted = {**hx_from("/x"), "HX-Boosted": "true"}
    with app.test_request_context("/chair/x", method="POST", headers=boosted):
        assert fragments.redirect_after_post("/chair").status_code == 303


# -- success through the real views --------------------------------------------------------------


@pytest.fixture
def staff_request(member) -> StaffRequest:
    asked = StaffRequest(person_id=member.id, motivation="I run DNS at work.")
    db.session.add(asked)
    db.session.commit()
    return asked


def test_an_inline_act_swaps_its_row_with_the_banner_and_the_nav_out_of_band(
    app, client, people, chair, staff_request
):
    people.sign_in(client, chair)
    assert html(client.get("/chair")).select_one("#nav-chair-queue .count").text == "1"
    response = client.post(
        f"/chair/staff-requests/{staff_request.id}/grant",
        data={"reason": "Welcome"},
        headers=hx_from("/chair"),
    )
    assert response.status_code == 200
    fragment = html(response)
    assert fragment.select_one("html") is None
    assert fragment.select_one(f"tr#staff-request-{staff_request.id} .status").text == "Granted"
    # In a <template>, so that it parses after a <tr>; innerHTML keeps the live regions.
    extra = out_of_band(fragment)
    banners = extra.select_one("#banners[hx-swap-oob=innerHTML]")
    assert banners.select_one(".banner--ok").text == "The request of Mia Member is granted."
    nav = extra.select_one("nav#site-nav[hx-swap-oob=innerHTML]")
    assert nav.select_one("#nav-chair-queue .count") is None  # nothing waits any more
    # Seen from the page it came from: the queue stays the current section.
    assert nav.select_one("#nav-chair-queue")["aria-current"] == "page"
    # Delivered once: the next page has no banner left.
    assert html(client.get("/chair")).select_one("#banners .banner") is None


def test_an_act_followed_to_its_own_page_brings_the_flash_out_of_band(
    client, people, board, member
):
    people.sign_in(client, board)
    data = {"email": member.email, "resolution_ref": "2026-05-12-03"}
    refused = client.post("/board/chair", data=data, headers=hx_from("/board"))
    assert refused.status_code == 422  # no date: the form comes back, nothing out of band
    assert html(refused).select_one("template") is None
    data["resolution_date"] = "2026-05-12"
    response = client.post("/board/chair", data=data, headers=hx_from("/board"))
    assert (response.status_code, response.location) == (303, "/board")
    # htmx follows the 303 with its headers: the page's fragment, the banner out of band.
    followed = html(client.get("/board", headers=hx_from("/board")))
    assert followed.select_one("html") is None
    assert "Mia Member" in followed.select_one("#appoint-chair #current-chair").text
    extra = out_of_band(followed)
    assert extra.select_one("#banners .banner--ok").text == "The chair is appointed."
    assert extra.select_one("nav#site-nav")
    with client.session_transaction() as session:
        assert "_flashes" not in session and fragments.ACTED not in session


def test_a_request_for_another_page_redirects_the_browser_and_the_flash_shows_there(
    app, client, people, chair, member
):
    people.sign_in(client, chair)
    response = client.post(
        "/chair/staff",
        data={"email": member.email, "reason": "Runs our DNS"},
        headers=hx_from("/dashboard"),
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/chair"
    page = html(client.get("/chair"))
    assert page.select_one("#banners .banner--ok").text == "Staff status granted."


def test_a_plain_fragment_read_carries_nothing_out_of_band(client, people, chair):
    people.sign_in(client, chair)
    response = client.get("/chair", headers=hx_from("/chair"))
    assert response.status_code == 200
    assert html(response).select_one("template") is None


# -- failure -------------------------------------------------------------------------------------


def inline_error(response) -> BeautifulSoup:
    page = html(response)
    assert page.select_one("html, body, nav, main, header") is None  # never a whole page
    block = page.select_one("div[data-fragment-error][role=alert]")
    assert block is not None
    return block


def test_a_refused_htmx_act_answers_an_inline_block_at_the_top_of_its_form(
    client, people, member, staff_request
):
    people.sign_in(client, member)
    response = client.post(
        f"/chair/staff-requests/{staff_request.id}/grant",
        data={"reason": "x"},
        headers=hx_from("/chair"),
    )
    assert response.status_code == 403
    block = inline_error(response)
    assert block.select_one(".error-summary__title").text == "Not allowed"
    assert (response.headers["HX-Retarget"], response.headers["HX-Reswap"]) == (
        "closest form",
        "afterbegin",
    )
    # Without htmx: the whole error page, as before.
    plain = client.post(f"/chair/staff-requests/{staff_request.id}/grant", data={"reason": "x"})
    assert plain.status_code == 403
    assert html(plain).select_one("main h1").text == "Not allowed"
    assert "HX-Retarget" not in plain.headers


def test_an_expired_form_and_a_missing_thing_answer_inline_too(client, people, chair):
    people.sign_in(client, chair)
    expired = client.post("/chair/staff", data={"email": "a@b.c"}, csrf=False, headers=HX)
    assert expired.status_code == 400
    assert "Reload the page" in inline_error(expired).select_one(".message").text
    assert expired.headers["HX-Retarget"] == "closest form"
    # A GET (a link, a poll) may sit outside any form: the block goes next to it.
    missing = client.get("/services/999999", headers=hx_from("/services"))
    assert missing.status_code == 404
    assert inline_error(missing)
    assert (missing.headers["HX-Retarget"], missing.headers["HX-Reswap"]) == ("this", "beforebegin")


@pytest.mark.own_app
def test_an_unexpected_error_answers_inline_with_its_500(app, client, people, member):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.post("/boom")
    @public
    def boom():
        raise RuntimeError("a bug")

    people.sign_in(client, member)
    response = client.post("/boom", headers=HX)
    assert response.status_code == 500
    assert "The error was logged" in inline_error(response).text
    assert "a bug" not in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "closest form"


def test_every_htmx_act_sits_in_a_form_where_its_error_goes():
    """``HX-Retarget: closest form`` finds a form for every control that posts."""
    act = re.compile(r"hx-(post|put|patch|delete)$")
    seen = 0
    for path in TEMPLATES.rglob("*.html"):
        page = BeautifulSoup(path.read_text(), "html.parser")
        for element in page.find_all(lambda tag: any(act.match(a) for a in tag.attrs)):
            seen += 1
            assert element.name == "form" or element.find_parent("form"), (path, element.name)
    assert seen >= 15  # the scan sees the acts (records, rows, comments, questions...)
