"""Full-text search over the archive: SQLite FTS5 or PostgreSQL ``tsvector``.

The index is made by the archives migration, per dialect: on SQLite an external-content
FTS5 table ``archive_message_fts`` (subject, body_text, from_name, from_email) that the
store function fills through :func:`index_new_messages`, on PostgreSQL a generated
``search_vector`` column (subject, sender and the first 200,000 characters of the body,
English configuration) with a GIN index. Alembic's autogenerate is told to leave them
alone (:func:`include_name`).
Every search starts from :func:`infrawg.archives.access.visible_messages` (R16), so a
result a person may not read cannot be found, counted or highlighted.

Ranking is bounded: with more than :data:`RANK_CAP` (1,000) matches, only the newest
1,000 of them (by date) are ranked, on both engines, so a common word costs the ranking
of 1,000 documents rather than of every hit; the count stops at the same cap ("more
than 1,000"). On SQLite the newest are found along a covering index of the message dates
(migration 5c3e8b1f9a27), not by reading each hit's row. Snippets are made for the
page's rows only, from the first :data:`_HEADLINE_CHARS` characters of the body (a hit
further on leaves the snippet unmarked: the subject and the ranking still see the whole
message).

Queries are reduced to words (letters, digits, underscore) before they reach either
engine, so no search syntax of the user's reaches SQL; the last word matches as a prefix
(search as you type). Snippets come back with control-character markers around the hits
and are escaped here, markers turned into ``<mark>``: text of a mail is never HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import (
    Select,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.orm import Session, aliased, load_only
from sqlalchemy.sql.expression import ColumnClause

from infrawg.archives.access import visible_messages
from infrawg.archives.models import MailingList, Message

__all__ = [
    "SearchQuery",
    "count_matches",
    "highlight",
    "include_name",
    "page_of_matches",
    "ranked_ids",
    "result_rows",
]

FTS_TABLE = "archive_message_fts"
PG_CONFIG = "english"  # R17: the working language is English
START, STOP = "\x02", "\x03"
_MAX_WORDS = 8
# With more matches than this, only the newest RANK_CAP are ranked (see the docstring).
RANK_CAP = 1_000
# ts_headline re-parses the document; a long patch need not be read past this.
_HEADLINE_CHARS = 2_000


# Indexes of the search alone (made by hand in the migrations, per dialect).
_SEARCH_INDEXES = ("ix_archive_message_search", "ix_archive_message_date_visible")


def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """Alembic autogenerate filter: the search index is made by hand, per dialect."""
    if type_ == "table" and name and name.startswith(FTS_TABLE):
        return False
    if type_ == "column" and name == "search_vector":
        return False
    return not (type_ == "index" and name in _SEARCH_INDEXES)


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


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _pg_tsquery(words: list[str]) -> Any:
    config: ColumnClause[Any] = literal_column(f"'{PG_CONFIG}'::regconfig")
    return func.to_tsquery(config, bindparam("tsq", _tsquery(words)))


_PG_VECTOR: ColumnClause[Any] = literal_column("archive_message.search_vector")
_FTS: ColumnClause[Any] = literal_column(FTS_TABLE)


def _matching(session: Session, person: Any, query: SearchQuery, *columns: Any) -> Select:
    """SELECT ``columns`` FROM the messages matching ``query`` that ``person`` may read
    (R16: built on visible_messages), unordered."""
    stmt = visible_messages(person, *columns)
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
    if query.until and query.until < date.max:
        # The day after, exclusive; "until the last day there is" (9999-12-31) is no bound.
        end = datetime.combine(query.until + timedelta(days=1), datetime.min.time())
        stmt = stmt.where(Message.date < end)
    words = query.words
    if not words:
        return stmt
    if _is_postgresql(session):
        return stmt.where(_PG_VECTOR.op("@@")(_pg_tsquery(words)))
    fts_table = table(FTS_TABLE, column("rowid"))
    return stmt.join(fts_table, fts_table.c.rowid == Message.id).where(
        _FTS.op("MATCH")(bindparam("match", _fts5_match(words)))
    )


def _pg_rank(words: list[str]) -> Any:
    # Subject hits first (weights D, C, B, A), long bodies not favoured (flag 1).
    weights: ColumnClause[Any] = literal_column("'{0.05, 0.1, 0.4, 1.0}'::float4[]")
    return func.ts_rank(weights, _PG_VECTOR, _pg_tsquery(words), 1)


def _ranking(session: Session, query: SearchQuery) -> list[Any]:
    """ORDER BY of a search: best first, then newest; newest first without words."""
    words = query.words
    if not words:
        return [Message.date.desc(), Message.id.desc()]
    if _is_postgresql(session):
        return [_pg_rank(words).desc(), Message.date.desc()]
    return [func.bm25(_FTS, 6.0, 1.0, 3.0, 3.0), Message.date.desc()]


def _highlighted(session: Session, query: SearchQuery) -> tuple[Any, Any]:
    """The subject with its hits marked, and a snippet of the body around them."""
    words = query.words
    if not words:
        return Message.subject, func.substr(Message.body_text, 1, 240)
    if _is_postgresql(session):
        config: ColumnClause[Any] = literal_column(f"'{PG_CONFIG}'::regconfig")
        tsq = _pg_tsquery(words)
        options = f"StartSel={START}, StopSel={STOP}, HighlightAll=true"
        snippet_options = (
            f"StartSel={START}, StopSel={STOP}, MaxWords=24, MinWords=10, "
            'MaxFragments=1, FragmentDelimiter=" … "'
        )
        return (
            func.ts_headline(config, Message.subject, tsq, options),
            func.ts_headline(
                config, func.left(Message.body_text, _HEADLINE_CHARS), tsq, snippet_options
            ),
        )
    return (
        func.highlight(_FTS, 0, START, STOP),
        func.snippet(_FTS, 1, START, STOP, " … ", 24),
    )


def count_matches(session: Session, person: Any, query: SearchQuery, cap: int) -> int:
    """How many messages match, counted up to ``cap + 1`` (more is "more than cap"):
    counting every hit of a common word costs more than the page itself."""
    found = _matching(session, person, query, Message.id).limit(cap + 1).subquery()
    return session.scalar(select(func.count()).select_from(found)) or 0


def ranked_ids(
    session: Session,
    person: Any,
    query: SearchQuery,
    limit: int,
    offset: int,
    cap: int | None = RANK_CAP,
) -> list[int]:
    """Ids of one page of the matches, best first (no snippets: ranking reads only the
    index, and SQLite would compute a snippet for every hit before sorting).

    With words and a ``cap``, only the newest ``cap`` matches are ranked: reading the
    tsvector of every hit of a common word cost more than the whole page. The caller
    that counted at most ``cap`` matches may pass None (rank them all, the same result,
    found without walking the messages by date). Without words there is no ranking,
    only newest first.
    """
    words = query.words
    if not words or cap is None:
        statement = _matching(session, person, query, Message.id).order_by(
            *_ranking(session, query), Message.id.desc()
        )
    elif _is_postgresql(session):
        statement = _pg_newest_ranked(session, person, query, cap)
    else:
        newest = (
            _matching(session, person, query, Message.id.label("id"))
            .order_by(Message.date.desc(), Message.id.desc())
            .limit(cap)
            .subquery("newest")
        )
        # bm25() needs the MATCH in its own query: the search again, within the newest.
        statement = (
            _matching(session, person, query, Message.id)
            .where(Message.id.in_(select(newest.c.id)))
            .order_by(*_ranking(session, query), Message.id.desc())
        )
    return list(session.scalars(statement.limit(limit).offset(offset)))


def _pg_newest(session: Session, person: Any, query: SearchQuery, cap: int) -> Select:
    """SELECT id, date, rank of the newest ``cap`` matches, newest first. Per list
    (LATERAL), newest first along the (list, date) index, so that a common word stops
    after ~``cap`` messages instead of testing every tsvector; each candidate is ranked
    as it is found (its vector read once)."""
    outer = aliased(MailingList, name="each_list")
    per_list = (
        _matching(
            session,
            person,
            query,
            Message.id.label("id"),
            Message.date.label("date"),
            _pg_rank(query.words).label("rank"),
        )
        .where(Message.list_id == outer.id)
        .order_by(Message.date.desc(), Message.id.desc())
        .limit(cap)
        .lateral("per_list")
    )
    newest_of_all = select(per_list.c.id, per_list.c.date, per_list.c.rank).select_from(outer)
    if query.list_name:
        newest_of_all = newest_of_all.where(outer.name == query.list_name)
    return (
        newest_of_all.join(per_list, true())
        .order_by(per_list.c.date.desc(), per_list.c.id.desc())
        .limit(cap)
    )


def _pg_newest_ranked(session: Session, person: Any, query: SearchQuery, cap: int) -> Select:
    """The newest ``cap`` matches, best first (see :func:`_pg_newest`)."""
    newest = _pg_newest(session, person, query, cap).subquery("newest")
    return select(newest.c.id).order_by(
        newest.c.rank.desc(), newest.c.date.desc(), newest.c.id.desc()
    )


def page_of_matches(
    session: Session, person: Any, query: SearchQuery, limit: int, offset: int, cap: int
) -> tuple[list[int], int]:
    """(ids of one page, best first; matches counted up to ``cap + 1``): the count of
    :func:`count_matches` and the page of :func:`ranked_ids`, by the rule of the module
    (more than ``cap`` matches: the newest ``cap`` ranked).

    On PostgreSQL with words, one walk does both: the newest ``cap + 1`` matches with
    their ranks come back (a few kB), are counted, and the newest ``cap`` ordered here.
    """
    if query.words and not _is_postgresql(session):
        return _sqlite_page(session, person, query, limit, offset, cap)
    if not (query.words and _is_postgresql(session)):
        found = count_matches(session, person, query, cap)
        bound = cap if found > cap else None  # at most cap: rank them all, the same result
        return ranked_ids(session, person, query, limit, offset, bound), found
    rows = session.execute(_pg_newest(session, person, query, cap + 1)).all()
    newest = list(rows[:cap])  # newest first, as ranked_ids breaks ties
    newest.sort(key=lambda row: (row.rank, row.date, row.id), reverse=True)
    return [row.id for row in newest[offset : offset + limit]], len(rows)


def _sqlite_newest(session: Session, person: Any, query: SearchQuery, cap: int) -> Select:
    """SELECT id of the newest ``cap`` matches (R16: built on visible_messages), newest
    first. The FTS5 hits come in as a set of rowids (``id + 0 IN``: not a lookup of each
    hit by its rowid), and the messages are walked by date along a covering index (date,
    id, published, thread_id, list_id): a message row holds its body and raw mail before
    ``published``, so reading a hit's row read its whole body (33 ms for a common word at
    40k messages, 4 ms along the index)."""
    base = replace(query, text="")
    hits: Select[Any] = (
        select(literal_column("rowid"))
        .select_from(table(FTS_TABLE))
        .where(_FTS.op("MATCH")(bindparam("match", _fts5_match(query.words))))
    )
    return (
        _matching(session, person, base, Message.id)
        .where((Message.id + 0).in_(hits))
        .order_by(Message.date.desc(), Message.id.desc())
        .limit(cap)
    )


def _sqlite_page(
    session: Session, person: Any, query: SearchQuery, limit: int, offset: int, cap: int
) -> tuple[list[int], int]:
    """:func:`page_of_matches` on SQLite with words. Counting up to ``cap + 1`` reads
    the rows of that many hits at most (cheap); at most ``cap``: bm25 over them all.
    More: the newest ``cap`` along the date index (:func:`_sqlite_newest`), then bm25
    over those ids only (the MATCH again, within them: bm25 needs it in its query)."""
    found = count_matches(session, person, query, cap)
    if found <= cap:
        return ranked_ids(session, person, query, limit, offset, None), found
    newest = list(session.scalars(_sqlite_newest(session, person, query, cap)))
    statement = (
        _matching(session, person, query, Message.id)
        .where(Message.id.in_(newest))
        .order_by(*_ranking(session, query), Message.id.desc())
    )
    return list(session.scalars(statement.limit(limit).offset(offset))), found


def result_rows(session: Session, person: Any, query: SearchQuery, ids: list[int]) -> list[Any]:
    """Rows (message, list name, subject HTML, snippet HTML) of ``ids``, in that order.
    Still built on the search itself: the highlighting needs its match, and R16 its
    filter."""
    if not ids:
        return []
    subject_hl, snip = _highlighted(session, query)
    columns = (
        Message,
        MailingList.name.label("list_name"),
        subject_hl.label("subject_hl"),
        snip.label("snip"),
    )
    if _is_postgresql(session):
        # ts_headline needs only the tsquery; testing @@ again made the planner scan the
        # GIN index for every hit of the words before it looked at the 20 ids.
        statement = visible_messages(person, *columns)
    else:
        statement = _matching(session, person, query, *columns)  # FTS5 needs its MATCH
    # The results show a few headers: the bodies (loaded on access if ever needed) stay.
    shown = (Message.message_id, Message.subject, Message.from_name, Message.from_email)
    statement = statement.where(Message.id.in_(ids)).options(load_only(*shown, Message.date))
    by_id = {row[0].id: row for row in session.execute(statement)}
    return [by_id[pk] for pk in ids if pk in by_id]


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


def index_new_messages(session: Session, pks: list[int], rows: list[dict[str, Any]]) -> None:
    """Tell the index about messages the store function just inserted (``rows``, in the
    order of their ids ``pks``), in the same transaction. PostgreSQL's ``search_vector``
    is a generated column and needs nothing; SQLite's FTS5 table reads its content from
    archive_message (external content) but must be told of each new row."""
    if session.get_bind().dialect.name != "sqlite" or not pks:
        return
    session.execute(
        text(
            "INSERT INTO archive_message_fts (rowid, subject, body_text, from_name, "
            "from_email) VALUES (:id, :subject, :body_text, :from_name, :from_email)"
        ),
        [
            {
                "id": pk,
                "subject": row["subject"],
                "body_text": row["body_text"],
                "from_name": row["from_name"],
                "from_email": row["from_email"],
            }
            for pk, row in zip(pks, rows, strict=True)
        ],
    )
