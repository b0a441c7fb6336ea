"""How an htmx request reports success and failure, defined once for every interaction.

Success (``redirect_after_post``, after a non-GET act):

- without htmx (or for a boosted request): the message is flashed, 303 to the page;
- an htmx control that answers with its own fragment (``swap``, a table row): that
  fragment, the message delivered as an out-of-band banner into ``#banners``;
- an htmx request whose next page is another one (the request form, whose next page is
  the new service): 204 with ``HX-Redirect``, and the browser loads that page, where the
  flashed message shows;
- an htmx request whose next page is the one it came from (a DNS record saved on the
  service page): 303, which htmx follows; the page answers with its fragment for the
  target, and the banner comes out of band.

An act's answer (its fragment or the page's fragment it leads to) also carries the
navigation out of band, so its counts of waiting work follow the act.

Failure (``error_response``, from the error handlers of ``infrawg.web``): a small inline
error block with the message, its status kept (4xx, or 5xx), never a whole page. htmx is
told where it goes: at the top of the form of the control that sent a non-GET request
(``HX-Retarget: closest form``, ``HX-Reswap: afterbegin``), next to the element of a GET
(a link, a poll). The target the control swaps stays in place, so the control works
again; static/site.js removes an old error block when its control sends again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    get_flashed_messages,
    make_response,
    redirect,
    render_template,
    request,
    session,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

# Set by an act that answers with a fragment: the fragment that answers it (this response
# or the page htmx follows the 303 to) carries the navigation out of band.
ACTED = "_fragments_acted"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_fragment_request() -> bool:
    """An htmx request that swaps a part of the page (not boosted, not a history restore)."""
    hx = getattr(request, "htmx", None)
    if not hx:
        return False
    return not hx.boosted and not hx.history_restore_request


def leaves_page(url: str) -> bool:
    """Whether ``url`` is another page than the one the htmx request came from (its
    HX-Current-URL, compared by path; without the header, which htmx always sends, it
    cannot be told: no)."""
    current = request.headers.get("HX-Current-URL", "")
    if not current:
        return False
    here, there = urlsplit(current), urlsplit(url)
    if there.netloc and there.netloc != here.netloc:
        return True
    return (there.path or "/") != (here.path or "/")


def redirect_after_post(
    url: str,
    message: str | None = None,
    category: str = "ok",
    *,
    swap: Callable[[], ResponseReturnValue] | None = None,
) -> ResponseReturnValue:
    """The answer to a successful non-GET act whose next page is ``url`` (see the module).

    ``swap`` gives the fragment an htmx control is answered with in place (its row);
    without it an htmx request goes to ``url``: followed in place when it is the page the
    request came from, else loaded as a whole page (``HX-Redirect``)."""
    if message:
        flash(message, category)
    if not is_fragment_request():
        return redirect(url, code=303)
    if swap is not None:
        return swap()  # a non-GET answer: it carries the navigation (deliver_out_of_band)
    if leaves_page(url):
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = url
        return response
    session[ACTED] = True
    return redirect(url, code=303)


def error_response(status: int, title: str, message: str, **context: Any) -> Response:
    """The inline error block answering a failed htmx request (see the module)."""
    body = render_template(
        "errors/_inline.html", status=status, title=title, message=message, **context
    )
    response = make_response(body, status)
    if request.method in SAFE_METHODS:
        response.headers["HX-Retarget"] = "this"
        response.headers["HX-Reswap"] = "beforebegin"
    else:
        response.headers["HX-Retarget"] = "closest form"
        response.headers["HX-Reswap"] = "afterbegin"
    return response


@contextmanager
def _as_current_page() -> Iterator[None]:
    """Render as on the page the request came from: the navigation marks its section
    (the act's own endpoint, a POST route, is nobody's section)."""
    saved = request.url_rule
    path = urlsplit(request.headers.get("HX-Current-URL", "")).path
    root = request.script_root
    if root and path.startswith(root):
        path = path[len(root) :]
    if path:
        try:
            adapter = current_app.url_map.bind_to_environ(request.environ)
            rule, _ = adapter.match(path, method="GET", return_rule=True)
            request.url_rule = rule
        except (HTTPException, RoutingException):
            pass
    try:
        yield
    finally:
        request.url_rule = saved


def deliver_out_of_band(response: Response) -> Response:
    """after_request: a successful htmx fragment carries the flashed messages (into
    ``#banners``) and, after an act, the navigation, both out of band."""
    if (
        not is_fragment_request()
        or not 200 <= response.status_code < 300
        or response.status_code == 204
        or response.mimetype != "text/html"
        or response.direct_passthrough
        or response.is_streamed
    ):
        return response
    messages = get_flashed_messages(with_categories=True) if "_flashes" in session else []
    acted = bool(session.pop(ACTED, False)) if ACTED in session else False
    acted = acted or request.method not in SAFE_METHODS
    nav = (acted or bool(messages)) and current_user.is_authenticated
    if not messages and not nav:
        return response
    if response.get_data()[:64].lstrip().lower().startswith((b"<!doctype", b"<html")):
        return response  # a whole page (one without a fragment) shows both itself
    # Counts read before the act (a template that showed one) are read again, after it.
    g.pop("nav_counts", None)
    with _as_current_page():
        extra = render_template("_out_of_band.html", messages=messages, nav=nav)
    response.set_data(response.get_data() + extra.encode())
    return response


def init_app(app: Flask) -> None:
    app.after_request(deliver_out_of_band)
