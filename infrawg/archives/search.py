"""Full-text search over the archive: SQLite FTS5 or PostgreSQL ``tsvector``.

The index is made by the archives migration, per dialect: on SQLite an external-content
FTS5 table ``archive_message_fts`` (subject, body_text, from_name, from_email) that the
store function fills, on PostgreSQL a generated ``search_vector`` column (subject,
sender and the first 200,000 characters of the body, English configuration) with a GIN
index. Alembic's autogenerate is told to leave them alone (:func:`include_name`).
Every search starts from :func:`infrawg.archives.access.visible_messages` (R16), so a
result a person may not read cannot be found, counted or highlighted.

Queries are reduced to words (letters, digits, underscore) before they reach either
engine, so no search syntax of the user's reaches SQL; the last word matches as a prefix
(search as you type). Snippets come back with control-character markers around the hits
and are escaped here, markers turned into ``<mark>``: text of a mail is never HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import Select, bindparam, column, func, literal_column, or_, table
from sqlalchemy.orm import Session

from infrawg.archives.access import visible_messages
from infrawg.archives.models import MailingList, Message

__all__ = [
    "SearchQuery",
    "highlight",
    "include_name",
    "search_statement",
]

FTS_TABLE = "archive_message_fts"
PG_CONFIG = "english"  # R17: the working language is English
START, STOP = "\x02", "\x03"
_MAX_WORDS = 8
# ts_headline re-parses the document; a long patch need not be read past this.
_HEADLINE_CHARS = 5_000


def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """Alembic autogenerate filter: the search index is made by hand, per dialect."""
    if type_ == "table" and name and name.startswith(FTS_TABLE):
        return False
    if type_ == "column" and name == "search_vector":
        return False
    return not (type_ == "index" and name == "ix_archive_message_search")


_WORD = re.compile(r"\w+")


def words_of(query: str) -> list[str]:
    """The words of a query, without any search syntax."""
    return _WORD.findall(query)[:_MAX_WORDS]


@dataclass(frozen=True)
class SearchQuery:
    """What a search asks for; every field optional."""

    text: str = ""
    list_name: str | None = None
    sender: str | None = None
    since: date | None = None
    until: date | None = None

    @property
    def words(self) -> list[str]:
        return words_of(self.text)

    @property
    def empty(self) -> bool:
        return not (self.words or self.sender or self.since or self.until or self.list_name)


def _fts5_match(words: list[str]) -> str:
    # Each word quoted (a phrase of its tokens); the last one also as a prefix.
    quoted = [f'"{word}"' for word in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def _tsquery(words: list[str]) -> str:
    terms = [f"'{word}'" for word in words]
    terms[-1] += ":*"
    return " & ".join(terms)


def search_statement(session: Session, person: Any, query: SearchQuery) -> Select:
    """Rows (message, list name, subject HTML, snippet HTML) of ``query`` that ``person``
    may read (R16: built on visible_messages), best first; paginate the result."""
    stmt = visible_messages(person, Message, MailingList.name.label("list_name"))
    if query.list_name:
        stmt = stmt.where(MailingList.name == query.list_name)
    if query.sender:
        needle = query.sender.strip().lower()
        stmt = stmt.where(
            or_(
                func.lower(Message.from_email).contains(needle, autoescape=True),
                func.lower(Message.from_name).contains(needle, autoescape=True),
            )
        )
    if query.since:
        stmt = stmt.where(Message.date >= datetime.combine(query.since, datetime.min.time()))
    if query.until:
        end = datetime.combine(query.until + timedelta(days=1), datetime.min.time())
        stmt = stmt.where(Message.date < end)
    words = query.words
    if not words:
        return stmt.add_columns(
            Message.subject.label("subject_hl"),
            func.substr(Message.body_text, 1, 240).label("snip"),
        ).order_by(Message.date.desc(), Message.id.desc())
    if session.get_bind().dialect.name == "postgresql":
        config = literal_column(f"'{PG_CONFIG}'::regconfig")
        tsq = func.to_tsquery(config, bindparam("tsq", _tsquery(words)))
        vector = literal_column("archive_message.search_vector")
        options = f"StartSel={START}, StopSel={STOP}, HighlightAll=true"
        snippet_options = (
            f"StartSel={START}, StopSel={STOP}, MaxWords=30, MinWords=12, "
            'MaxFragments=2, FragmentDelimiter=" … "'
        )
        return (
            stmt.add_columns(
                func.ts_headline(config, Message.subject, tsq, options).label("subject_hl"),
                func.ts_headline(
                    config,
                    func.left(Message.body_text, _HEADLINE_CHARS),
                    tsq,
                    snippet_options,
                ).label("snip"),
            )
            .where(vector.op("@@")(tsq))
            # Subject hits first (weights D, C, B, A), long bodies not favoured (flag 1).
            .order_by(
                func.ts_rank(
                    literal_column("'{0.05, 0.1, 0.4, 1.0}'::float4[]"), vector, tsq, 1
                ).desc(),
                Message.date.desc(),
            )
        )
    fts = literal_column(FTS_TABLE)
    fts_table = table(FTS_TABLE, column("rowid"))
    return (
        stmt.join(fts_table, fts_table.c.rowid == Message.id)
        .add_columns(
            func.highlight(fts, 0, START, STOP).label("subject_hl"),
            func.snippet(fts, 1, START, STOP, " … ", 24).label("snip"),
        )
        .where(fts.op("MATCH")(bindparam("match", _fts5_match(words))))
        .order_by(func.bm25(fts, 6.0, 1.0, 3.0, 3.0), Message.date.desc())
    )


_MARKER = re.compile(f"([{START}{STOP}])")


def highlight(value: str | None) -> Markup:
    """Escape ``value`` and turn the engine's hit markers into balanced ``<mark>`` tags."""
    if not value:
        return Markup("")
    out: list[str] = []
    inside = False
    for piece in _MARKER.split(value):
        if piece == START:
            if not inside:
                out.append("<mark>")
                inside = True
        elif piece == STOP:
            if inside:
                out.append("</mark>")
                inside = False
        elif piece:
            out.append(str(escape(piece)))
    if inside:
        out.append("</mark>")
    return Markup("".join(out))  # noqa: S704 - every piece escaped above
