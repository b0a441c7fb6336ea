"""Route access rows of the archives (R16; see tests/route_access.py).

Signed-in people who may not read the archive get 404, not 403: R16 keeps even the
existence of a list or thread private. Anonymous visitors are sent to sign in.
"""

from __future__ import annotations

from sqlalchemy import select

from infrawg.archives.models import Attachment, MailingList, Message, Quarantine, Thread
from infrawg.extensions import db
from tests.archives.factories import PNG, message, store, with_attachment
from tests.route_access import DECIDERS, PUBLIC, Row, World, post_profile, profile

READERS = profile(200, anonymous=302, applicant=404, board=404, former_member=404)
RESTRICTERS = post_profile({"staff", "chair"}, 303)
LIST = "route-list"


def populate(world: World) -> None:
    """A members-only list with one thread: a message with an attachment and a reply; a
    quarantined message."""
    store(
        LIST,
        with_attachment(
            "route-root@example.org", "Route thread", "Root.", "diagram.png", PNG, "image/png"
        ),
        message(
            "route-reply@example.org",
            "Re: Route thread",
            "Reply.",
            **{"In-Reply-To": "<route-root@example.org>"},
        ),
        b"\n\nnot a mail message at all\n",
    )
    mailing_list = db.session.scalar(select(MailingList).where(MailingList.name == LIST))
    root = db.session.scalar(select(Message).where(Message.message_id == "route-root@example.org"))
    world.objects.update(
        archive_list=mailing_list,
        archive_thread=db.session.get(Thread, root.thread_id),
        archive_message=root,
        archive_attachment=db.session.scalar(
            select(Attachment).where(Attachment.message_pk == root.id)
        ),
        archive_quarantine=db.session.scalar(
            select(Quarantine).where(Quarantine.list_id == mailing_list.id)
        ),
    )


def _thread(w: World) -> str:
    return f"/archives/{LIST}/threads/{w.objects['archive_thread'].id}"


ROWS = [
    Row("archives.index", "GET", "/archives/", PUBLIC),
    Row("archives.search_page", "GET", "/archives/search?q=route", PUBLIC),
    Row("archives.list_threads", "GET", f"/archives/{LIST}/", READERS),
    Row("archives.list_months", "GET", f"/archives/{LIST}/months", READERS),
    Row(
        "archives.month",
        "GET",
        lambda w: f"/archives/{LIST}/months/{w.objects['archive_message'].month}",
        READERS,
    ),
    Row(
        "archives.month_export",
        "GET",
        lambda w: f"/archives/{LIST}/months/{w.objects['archive_message'].month}.mbox",
        READERS,
    ),
    Row("archives.thread", "GET", _thread, READERS),
    Row("archives.thread_export", "GET", lambda w: _thread(w) + ".mbox", READERS),
    Row(
        "archives.message",
        "GET",
        lambda w: f"/archives/{LIST}/messages/{w.objects['archive_message'].message_id}",
        READERS,
    ),
    Row(
        "archives.attachment",
        "GET",
        lambda w: f"/archives/attachments/{w.objects['archive_attachment'].id}/diagram.png",
        READERS,
    ),
    Row(
        "archives.list_visibility",
        "POST",
        f"/archives/{LIST}/visibility",
        RESTRICTERS,
        data={"level": "staff", "reason": "sensitive"},
    ),
    Row(
        "archives.list_description",
        "POST",
        f"/archives/{LIST}/description",
        RESTRICTERS,
        data={"description": "What the list is for."},
    ),
    Row(
        "archives.thread_visibility",
        "POST",
        lambda w: _thread(w) + "/visibility",
        RESTRICTERS,
        data={"level": "staff", "reason": "sensitive"},
    ),
    Row("archives.quarantine", "GET", "/archives/quarantine", DECIDERS),
    Row(
        "archives.quarantined",
        "GET",
        lambda w: f"/archives/quarantine/{w.objects['archive_quarantine'].id}",
        DECIDERS,
    ),
    Row(
        "archives.quarantine_reimport",
        "POST",
        lambda w: f"/archives/quarantine/{w.objects['archive_quarantine'].id}/reimport",
        post_profile({"staff", "chair"}, 303),
    ),
    # No INFRAWG_ARCHIVER_TOKEN in the tests' configuration: the endpoint does not exist.
    Row("archives.mailman_archive", "POST", "/archives/api/mailman/archive", profile(404)),
    Row("archives.mailman_urls", "GET", f"/archives/api/mailman/urls?mlist={LIST}", profile(404)),
]
