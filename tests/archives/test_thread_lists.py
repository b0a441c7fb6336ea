"""A list's threads show who took part and how many replies, from what the reader may read
(one query for a page, however many threads); a thread folds its long patches."""

from __future__ import annotations

from infrawg.extensions import db
from tests.archives.conftest import build_message
from tests.archives.factories import store
from tests.conftest import html
from tests.queries import counted_queries

WRITERS = ["Ann Adams", "Bob Brown", "Cleo Chen", "Dan Diaz", "Eve Evans"]


def post(number: int, sender: str, root: str | None = None, body: str = "Hello.\n") -> bytes:
    email = sender.split()[0].lower() + "@example.org"
    return build_message(
        message_id=f"<{root or 't'}-{number}@example.org>",
        subject="Re: Mirror plans" if number else "Mirror plans",
        date=f"Mon, 29 Apr 2019 11:{number:02d}:00 +0000",
        sender=f"{sender} <{email}>",
        headers={"In-Reply-To": f"<{root or 't'}-0@example.org>"} if number else {},
        body=body,
    )


def rows(client, list_name="infra"):
    page = html(client.get(f"/archives/{list_name}/"))
    return [
        (
            tr.select_one("td a").text,
            " ".join(tr.select_one("td.participants").text.split()),
            tr.select_one("td.count-cell").text,
        )
        for tr in page.select("#threads tbody tr")
    ]


def test_thread_list_names_participants_and_counts_replies(app, client, people, member):
    store("infra", *(post(i, name) for i, name in enumerate(WRITERS)), post(5, "Ann Adams"))
    # A reply not published yet (held for moderation): its sender is not shown or counted.
    store("infra", post(6, "Secret Sender"), publish=False)
    people.sign_in(client, member)
    assert rows(client) == [("Mirror plans", "Ann Adams, Bob Brown, Cleo Chen and 2 more", "5")]


def test_thread_list_runs_the_same_queries_for_more_threads(app, client, people, member):
    store("infra", post(0, "Ann Adams", root="a"), post(1, "Bob Brown", root="a"))
    people.sign_in(client, member)
    db.session.expire_all()
    with counted_queries() as few:
        assert len(rows(client)) == 1
    for n in range(12):
        store("infra", post(0, WRITERS[n % 5], root=f"r{n}"), post(1, "Dan Diaz", root=f"r{n}"))
    db.session.expire_all()
    with counted_queries() as many:
        assert len(rows(client)) == 13
    assert len(many) == len(few)


PATCH = "\n".join(
    ["diff --git a/zone.py b/zone.py", "--- a/zone.py", "+++ b/zone.py", "@@ -1,20 +1,20 @@"]
    + [f"-old line {i}\n+new line {i}" for i in range(20)]
)


def test_a_long_patch_is_folded_with_its_size(app, client, people, member):
    store("infra", post(0, "Ann Adams", body=f"The fix:\n\n{PATCH}\n-- \n2.39.5\n"))
    people.sign_in(client, member)
    thread = html(client.get("/archives/infra/")).select_one("#threads td a")["href"]
    page = html(client.get(thread))
    folded = page.select_one("article.mail details.patch")
    assert folded is not None and folded.get("open") is None
    assert folded.summary.text == "Patch: 44 lines (1 file, 20 added, 20 removed)"
    assert "+new line 19" in folded.pre.text
    assert "The fix:" in page.select_one("article.mail .body > pre").text
