"""Pages of the archives (R16). Thin: parse input, call a service, render.

Every route here passes :func:`infrawg.archives.access.guard` (members only unless
marked ``public_capable``, whose queries filter per object, or ``token_protected``).
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import nh3
from flask import Response, abort, jsonify, request, send_file, stream_with_context, url_for
from flask_login import current_user
from markupsafe import Markup

from infrawg.archives import access, bp, ingest, search, service
from infrawg.archives.files import attachment_path
from infrawg.archives.forms import (
    INHERIT,
    DescriptionForm,
    SearchForm,
    ThreadVisibilityForm,
    VisibilityForm,
)
from infrawg.archives.lmtp import list_for
from infrawg.archives.models import Visibility
from infrawg.archives.parse import split_body
from infrawg.errors import DomainError, Invalid, NotFound
from infrawg.extensions import db
from infrawg.forms import ConfirmForm
from infrawg.policy import Permission, can, requires
from infrawg.web import page_number, paginate, redirect_after_post, render, submit

# R16: the one check in front of every archive route.
bp.before_request(access.guard)


@bp.record_once
def _leave_search_index_to_the_migration(state) -> None:
    # The FTS5 table / tsvector column are made per dialect by hand; autogenerate of any
    # area must not propose dropping them.
    state.app.extensions["migrate"].configure_args.setdefault("include_name", search.include_name)


# The policy of downloads: never rendered by the browser, never sniffed, no script.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}
_HTML_TAGS = nh3.ALLOWED_TAGS - {"img"}


@bp.app_template_filter("body_segments")
def _body_segments(text: str):
    return split_body(text or "")


@bp.app_template_filter("sanitised_html")
def _sanitised_html(value: str | None) -> Markup:
    # Stored HTML was cleaned by nh3 when it arrived; cleaned again here so that no
    # change to the store can ever put a script on a page.
    cleaned = nh3.clean(value or "", tags=set(_HTML_TAGS), url_schemes={"http", "https", "mailto"})
    return Markup(cleaned)  # noqa: S704 - nh3 output


@bp.app_template_filter("highlight")
def _highlight(value: str | None) -> Markup:
    return search.highlight(value)


@bp.get("/archives/")
@access.public_capable
def index():
    return render(
        "archives/index.html",
        lists=service.lists_overview(current_user),
        form=SearchForm(request.args),
    )


@bp.get("/archives/search")
@access.public_capable
def search_page():
    form = SearchForm(request.args)
    # The list picker needs names only: counting every list's messages would scan the
    # whole archive on each search.
    names = service.visible_list_names(current_user)
    form.list.choices = [("", "All lists"), *[(name, name) for name in names]]
    page = None
    query = search.SearchQuery()
    if form.validate():
        query = search.SearchQuery(
            text=form.q.data or "",
            list_name=form.list.data or None,
            sender=form.sender.data or None,
            since=form.since.data,
            until=form.until.data,
        )
        if not query.empty:
            page = service.search_messages(current_user, query, page_number(), per_page=20)
    return render(
        "archives/search.html",
        "archives/_results.html",
        form=form,
        page=page,
        query=query,
    )


@bp.get("/archives/<list_name>/")
@access.public_capable
def list_threads(list_name: str):
    mailing_list = service.get_list(current_user, list_name)
    page = service.paginate_rows(
        service.threads_statement(current_user, mailing_list), page_number()
    )
    return render(
        "archives/threads.html",
        "archives/_thread_rows.html",
        mailing_list=mailing_list,
        page=page,
        participants=service.participants(current_user, [row[0].id for row in page.items]),
        months=service.months(current_user, mailing_list),
        form=VisibilityForm(level=mailing_list.visibility.value),
        description_form=DescriptionForm(description=mailing_list.description),
    )


@bp.get("/archives/<list_name>/months")
@access.public_capable
def list_months(list_name: str):
    mailing_list = service.get_list(current_user, list_name)
    return render(
        "archives/months.html",
        mailing_list=mailing_list,
        months=service.months(current_user, mailing_list),
    )


@bp.get("/archives/<list_name>/months/<month>")
@access.public_capable
def month(list_name: str, month: str):
    mailing_list = service.get_list(current_user, list_name)
    statement = service.month_statement(current_user, mailing_list, month)
    return render(
        "archives/month.html",
        "archives/_message_rows.html",
        mailing_list=mailing_list,
        month=month,
        page=paginate(statement, per_page=50),
    )


@bp.get("/archives/<list_name>/months/<month>.mbox")
@access.public_capable
def month_export(list_name: str, month: str):
    mailing_list = service.get_list(current_user, list_name)
    entries = service.export_month(current_user, mailing_list, month)
    return _mbox_download(entries, f"{mailing_list.name}-{month}.mbox")


def _mbox_download(entries, filename: str) -> Response:
    response = Response(stream_with_context(entries), mimetype="application/mbox")
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    response.headers.update(DOWNLOAD_HEADERS)
    return response


@bp.get("/archives/<list_name>/threads/<int:thread_id>")
@access.public_capable
def thread(list_name: str, thread_id: int):
    mailing_list = service.get_list(current_user, list_name)
    nested = request.args.get("view", "nested") != "flat"
    view = service.thread_view(current_user, mailing_list, thread_id, nested=nested)
    level = view.thread.visibility.value if view.thread.visibility else INHERIT
    return render(
        "archives/thread.html",
        "archives/_thread_body.html",
        view=view,
        nested=nested,
        form=ThreadVisibilityForm(level=level),
    )


@bp.get("/archives/<list_name>/threads/<int:thread_id>.mbox")
@access.public_capable
def thread_export(list_name: str, thread_id: int):
    mailing_list = service.get_list(current_user, list_name)
    entries = service.export_thread(current_user, mailing_list, thread_id)
    return _mbox_download(entries, f"thread-{thread_id}.mbox")


@bp.get("/archives/<list_name>/messages/<path:message_id>")
@access.public_capable
def message(list_name: str, message_id: str):
    mailing_list = service.get_list(current_user, list_name)
    return render(
        "archives/message.html",
        view=service.message_view(current_user, mailing_list, message_id),
    )


@bp.get("/archives/attachments/<int:attachment_id>/<path:filename>")
@access.public_capable
def attachment(attachment_id: int, filename: str):
    item, _message = access.attachment_for(current_user, attachment_id, db.session)
    path = attachment_path(Path(ingest.archive_dir()), item.sha256)
    if not path.is_file():
        raise NotFound("The file of this attachment is missing.")
    response = send_file(
        path, mimetype=item.content_type, as_attachment=True, download_name=item.filename
    )
    response.headers.update(DOWNLOAD_HEADERS)
    return response


def _refuse(message: str):
    """``again`` for the archive's buttons: they have no page of their own to show again,
    so a refused one is answered by the error handler's page (as a raised error is)."""

    def again(_status: int, error: DomainError | None) -> NoReturn:
        raise error if error is not None else Invalid(message)

    return again


@bp.post("/archives/<list_name>/visibility")
@requires(Permission.ARCHIVE_RESTRICT)
def list_visibility(list_name: str):
    mailing_list = service.get_list(current_user, list_name)
    form = VisibilityForm()
    return submit(
        form,
        lambda: service.set_list_visibility(
            current_user, mailing_list, Visibility(form.level.data), form.reason.data or ""
        ),
        done=lambda _: redirect_after_post(
            url_for("archives.list_threads", list_name=list_name),
            f"The list is now: {Visibility(form.level.data).label.lower()}.",
        ),
        again=_refuse("Choose a level."),
    )


@bp.post("/archives/<list_name>/description")
@requires(Permission.ARCHIVE_RESTRICT)
def list_description(list_name: str):
    mailing_list = service.get_list(current_user, list_name)
    form = DescriptionForm()
    return submit(
        form,
        lambda: service.describe_list(current_user, mailing_list, form.description.data or ""),
        done=lambda _: redirect_after_post(
            url_for("archives.list_threads", list_name=list_name), "The description is saved."
        ),
        again=_refuse("Keep the description to 500 characters."),
    )


@bp.post("/archives/<list_name>/threads/<int:thread_id>/visibility")
@requires(Permission.ARCHIVE_RESTRICT)
def thread_visibility(list_name: str, thread_id: int):
    mailing_list = service.get_list(current_user, list_name)
    thread = service.get_thread(current_user, mailing_list, thread_id)
    form = ThreadVisibilityForm()

    def level() -> Visibility | None:
        return None if form.level.data == INHERIT else Visibility(form.level.data)

    def done(_result: object):
        target = url_for("archives.thread", list_name=list_name, thread_id=thread_id)
        if not can(current_user, Permission.ARCHIVE_READ_SENSITIVE) and level() == Visibility.STAFF:
            target = url_for("archives.list_threads", list_name=list_name)
        return redirect_after_post(target, "The thread's level is changed.")

    return submit(
        form,
        lambda: service.set_thread_visibility(
            current_user, thread, level(), form.reason.data or ""
        ),
        done=done,
        again=_refuse("Choose a level."),
    )


@bp.get("/archives/quarantine")
@requires(Permission.ARCHIVE_QUARANTINE)
def quarantine():
    return render(
        "archives/quarantine.html",
        page=service.paginate_rows(service.quarantine_statement(), page_number()),
    )


@bp.get("/archives/quarantine/<int:quarantine_id>")
@requires(Permission.ARCHIVE_QUARANTINE)
def quarantined(quarantine_id: int):
    item = service.get_quarantined(current_user, quarantine_id)
    return render(
        "archives/quarantined.html",
        item=item,
        raw_text=service.quarantined_text(item),
        form=ConfirmForm(),
    )


@bp.post("/archives/quarantine/<int:quarantine_id>/reimport")
@requires(Permission.ARCHIVE_QUARANTINE)
def quarantine_reimport(quarantine_id: int):
    item = service.get_quarantined(current_user, quarantine_id)

    def done(stored: bool):
        if stored:
            return redirect_after_post(
                url_for("archives.quarantine"), "The message is in the archive now."
            )
        return redirect_after_post(
            url_for("archives.quarantined", quarantine_id=quarantine_id),
            "It still cannot be parsed; it stays in quarantine.",
            "error",
        )

    return submit(
        ConfirmForm(),
        lambda: service.reimport_quarantined(current_user, item),
        done=done,
        again=_refuse("The form expired; reload the page."),
    )


# The list server's side: the API of the mailman-hyperkitty archiver plugin, so Mailman 3
# connects with base_url = <site>/archives/ and api_key = INFRAWG_ARCHIVER_TOKEN.


@bp.post("/archives/api/mailman/archive")
@access.token_protected
def mailman_archive():
    name = list_for(request.form.get("mlist") or request.args.get("mlist") or "")
    upload = request.files.get("message")
    raw = upload.read() if upload is not None else request.get_data()
    if name is None or not raw:
        return jsonify(error="mlist (the list's address) and message are required"), 400
    result = ingest.deliver(db.session(), name, raw, "mailman")
    if result.quarantined:
        return jsonify(error="quarantined", reason=next(iter(result.reasons), "")), 202
    return jsonify(url=url_for("archives.list_threads", list_name=name, _external=True))


@bp.get("/archives/api/mailman/urls")
@access.token_protected
def mailman_urls():
    name = list_for(request.args.get("mlist") or "")
    if name is None:
        abort(400)
    message_id = (request.args.get("msgid") or "").strip().strip("<>")
    if message_id:
        url = url_for("archives.message", list_name=name, message_id=message_id, _external=True)
    else:
        url = url_for("archives.list_threads", list_name=name, _external=True)
    return jsonify(url=url)
