"""Bad input never gives a 5xx: every form route, as every kind of person, with mutated input.

The routes and people are those of the route-access table (tests/route_access.py and
tests/<area>/routes.py). The fields of each form are found on the site's own pages (a
crawl of every GET row as the people who see forms), so a new form is fuzzed without a
line here. Each request then gets a seeded mutation of its fields: values dropped,
replaced by integers past every column's range, impossible dates, 130 KiB lines, NUL
bytes, markup, the wrong type of value; GET pages get the same in their query strings,
and URLs with ids get ids past 2**31 and 2**63.

Deterministic: the generator is seeded per route, person and round (INFRAWG_FUZZ_ROUNDS
multiplies the rounds, INFRAWG_FUZZ_SEED changes the seed). A 5xx fails with the request
that caused it and the last line of its traceback.
"""

from __future__ import annotations

import io
import logging
import os
import random
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import pytest

from infrawg.extensions import db, limiter
from tests.conftest import html, session_user_id, undone
from tests.route_access import KINDS, Row, World
from tests.test_route_access import all_rows, world  # noqa: F401 - the fixture is used

# Mutations per route and person: forms get more than query strings (which share names
# across pages). INFRAWG_FUZZ_ROUNDS=10 makes a longer hunt; the default stays near a
# minute on either database on two slow cores.
ROUNDS = int(os.environ.get("INFRAWG_FUZZ_ROUNDS", "2"))
POST_ROUNDS, GET_ROUNDS = 2 * ROUNDS, ROUNDS
SEED = os.environ.get("INFRAWG_FUZZ_SEED", "infrawg")
# The people whose pages hold the forms (others see a subset of the same forms).
CRAWLERS = ("chair", "tenant_member", "member", "anonymous")

HUGE_INTS = ("2147483648", "9223372036854775808", str(10**20), "-9223372036854775809")
NASTY = (
    "",
    " ",
    "0",
    "-1",
    *HUGE_INTS,
    "1e309",
    "NaN",
    "9999-12-31",
    "0001-01-01",
    "2025-02-30",
    "10000-01-01",
    "x" * 300,
    "\x00",
    "a\x00b",
    "<script>alert(1)</script>",
    "'; DROP TABLE person; --",
    "é☃\u202e",
    b"\xff\xfe not utf-8",
    "@",
    "..",
    "-",
    "a" * 64 + ".example.org",
    "%s%n{0}",
)
# One field longer than csv's limit (128 KiB), as the roster upload once met it.
LONG_LINE = "x" * (130 * 1024)
QUERY_NAMES = ("page", "q", "state", "since", "until", "list", "sender", "view", "survey")


@dataclass
class FormShape:
    """The fields of the forms posting to one path: name -> (kind, choices)."""

    fields: dict[str, tuple[str, list[str]]] = field(default_factory=dict)


def _fields_of(form) -> dict[str, tuple[str, list[str]]]:
    found: dict[str, tuple[str, list[str]]] = {}
    for element in form.select("input[name], select[name], textarea[name]"):
        name = element["name"]
        if name == "csrf_token":
            continue
        if element.name == "select":
            choices = [o.get("value", o.text) for o in element.select("option")]
            found[name] = ("select", choices)
        elif element.name == "textarea":
            found[name] = ("text", [element.text])
        else:
            kind = element.get("type", "text")
            found.setdefault(name, (kind, []))[1].append(element.get("value", ""))
    return found


def _crawl_forms(app, current: World) -> tuple[dict[str, FormShape], set[str]]:
    """The forms on every GET page (path -> fields), and the names of GET-form fields."""
    shapes: dict[str, FormShape] = {}
    query_names: set[str] = set(QUERY_NAMES)
    gets = [row for row in all_rows() if row.method == "GET"]
    for kind in CRAWLERS:
        client = _client(app, current, kind)
        for row in gets:
            url = row.url(current) if callable(row.url) else row.url
            limiter.reset()
            response = client.get(url)
            response.close()
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            for form in html(response).select("form"):
                action = urlsplit(form.get("action") or url).path
                fields = _fields_of(form)
                if (form.get("method") or "get").lower() == "get":
                    query_names |= set(fields)
                    continue
                shapes.setdefault(action, FormShape()).fields.update(fields)
    return shapes, query_names


def _client(app, current: World, kind: str):
    client = app.test_client()
    if kind != "anonymous":
        with client.session_transaction() as session:
            session["_user_id"] = session_user_id(current.people[kind])
    return client


def _value(rng: random.Random, kind: str, choices: list[str]) -> str | bytes:
    if choices and rng.random() < 0.4:
        return rng.choice(choices)
    if kind in {"number", "date"} and rng.random() < 0.5:
        return rng.choice((*HUGE_INTS, "9999-12-31", "0", "-1", ""))
    if rng.random() < 0.05:
        return LONG_LINE
    return rng.choice(NASTY)


def _mutated_form(rng: random.Random, shape: FormShape) -> dict:
    data: dict = {}
    for name, (kind, choices) in shape.fields.items():
        roll = rng.random()
        if roll < 0.15:
            continue  # the field is not sent at all
        if kind == "file":
            payload = rng.choice((LONG_LINE, "email\n" + LONG_LINE, "\x00\xff", "", "a@b.c"))
            data[name] = (io.BytesIO(payload.encode("utf-8", "surrogatepass")), "upload.csv")
        elif roll < 0.35 and choices:
            data[name] = choices[0]  # a value the page offered
        elif roll < 0.4:
            data[name] = [_value(rng, kind, choices), _value(rng, kind, choices)]
        else:
            data[name] = _value(rng, kind, choices)
    if rng.random() < 0.2:
        data[rng.choice(("id", "page", "year", "ttl"))] = rng.choice(HUGE_INTS)
    return data


def _mutated_query(rng: random.Random, names: set[str]) -> str:
    picked = rng.sample(sorted(names), k=min(3, len(names)))
    return urlencode({name: _value(rng, "text", []) for name in picked})


def _huge_id_urls(url: str) -> list[str]:
    """The URL with each of its numeric path segments past the 32- and 64-bit ranges."""
    path, _, query = url.partition("?")
    segments = path.split("/")
    out = []
    for index, segment in enumerate(segments):
        match = re.fullmatch(r"(\d+)(\.\w+)?", segment)
        if match:
            for huge in (HUGE_INTS[0], HUGE_INTS[1], HUGE_INTS[2]):
                changed = [*segments]
                changed[index] = huge + (match.group(2) or "")
                out.append("/".join(changed) + (f"?{query}" if query else ""))
    return out


def _encoded(data: dict) -> dict:
    """Keyword arguments of a POST: urlencoded by hand (so that bytes that are not UTF-8
    reach the site as a browser could send them), multipart when a file is in it."""
    if any(isinstance(v, tuple) for v in data.values()):
        return {"data": data}
    return {
        "data": urlencode(data, doseq=True),
        "content_type": "application/x-www-form-urlencoded",
    }


def _safe_text(value) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) < 80 else f"{text[:40]}...({len(text)} chars)"


@pytest.mark.slow
def test_no_mutated_form_url_or_query_string_gives_a_server_error(
    app,
    world,  # noqa: F811 - the route-access world fixture
    caplog,
    monkeypatch,
):
    # The migrations' logging configuration disables existing loggers; the 500 handler's
    # traceback is what a failure here must show.
    web_log = logging.getLogger("infrawg.web")
    monkeypatch.setattr(web_log, "disabled", False)
    caplog.set_level(logging.ERROR, logger="infrawg.web")
    keys = {name: (type(obj), obj.id) for name, obj in world.people.items()}
    object_keys = {name: (type(obj), obj.id) for name, obj in world.objects.items()}

    def current() -> World:
        return World(
            people={n: db.session.get(cls, pk) for n, (cls, pk) in keys.items()},
            objects={n: db.session.get(cls, pk) for n, (cls, pk) in object_keys.items()},
        )

    with undone(app):
        shapes, query_names = _crawl_forms(app, current())
    assert shapes, "the crawl found the site's forms"

    failures: list[str] = []

    def check(response, what: str) -> None:
        response.close()
        if response.status_code >= 500:
            errors = [r for r in caplog.records if r.exc_info]
            last = repr(errors[-1].exc_info[1]) if errors else "(nothing logged)"
            failures.append(f"{response.status_code} {what}: {last}")
        caplog.clear()

    # One client per kind of person, and its CSRF token, for the whole run (the session
    # lives in the client's cookie; each row's database changes are undone).
    with undone(app):
        clients = {kind: _client(app, current(), kind) for kind in KINDS}
        tokens = {kind: client.csrf_token() for kind, client in clients.items()}
        sessions = {}
        for kind, client in clients.items():
            with client.session_transaction() as session:
                sessions[kind] = dict(session)
    rows: list[Row] = all_rows()
    for row in rows:
        for kind in KINDS:
            rng = random.Random(f"{SEED}|{row.endpoint}|{row.method}|{kind}")
            with undone(app):
                now = current()
                url = row.url(now) if callable(row.url) else row.url
                client, token = clients[kind], tokens[kind]
                # A row before may have signed this person out: sign them in again.
                with client.session_transaction() as session:
                    session.clear()
                    session.update(sessions[kind])
                shape = shapes.get(urlsplit(url).path, FormShape())
                for _round in range(POST_ROUNDS if row.method == "POST" else GET_ROUNDS):
                    limiter.reset()
                    headers = {"HX-Request": "true"} if rng.random() < 0.3 else {}
                    if row.method == "GET":
                        sep = "&" if "?" in url else "?"
                        target = url + sep + _mutated_query(rng, query_names)
                        check(client.get(target, headers=headers), f"GET {target} as {kind}")
                    else:
                        data = _mutated_form(rng, shape) | {"csrf_token": token}
                        shown = {k: _safe_text(v) for k, v in data.items() if k != "csrf_token"}
                        check(
                            client.post(url, headers=headers, csrf=False, **_encoded(data)),
                            f"POST {url} {shown} as {kind}",
                        )
                if kind in ("chair", "anonymous"):
                    for target in _huge_id_urls(url):
                        limiter.reset()
                        if row.method == "GET":
                            response = client.get(target)
                        else:
                            response = client.post(target, data={"csrf_token": token}, csrf=False)
                        check(response, f"{row.method} {target} as {kind}")
    assert not failures, f"{len(failures)} requests gave a 5xx:\n" + "\n".join(failures)
