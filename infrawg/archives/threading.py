"""Conversation threading after Jamie Zawinski's algorithm.

See https://www.jwz.org/doc/threading.html.

Pure functions over plain values; the database layer feeds messages in and stores the
two answers per message: its **thread id** and its **parent**.

What it does, and where it departs from JWZ on purpose:

- References, then In-Reply-To, link messages into trees. Ids that are referenced but
  not archived become "ghost" containers, so replies to a missing message still share a
  thread. A link that would make a cycle is refused; a message's own References decide
  its parent over what other messages claimed (as in JWZ), and earlier links between
  other messages are never rewritten.
- The **thread id** is the id of the thread's topmost container, which may be a ghost
  (the first message of a thread that started before the archive did). It does not
  change when that ghost message arrives later, which keeps permalinks to threads
  stable.
- The **parent** is the nearest *archived* ancestor (ghosts skipped), or None for the
  top-level messages of a thread; that is what a nested view needs.
- Subject fallback, for clients that send replies without References or In-Reply-To:
  only a message whose subject carries a reply prefix ("Re:", "AW:", ...) and that has
  no reference at all is attached, to the most recent earlier message with the same
  normalised subject within ``subject_window``. JWZ also merges unrelated non-replies
  that share a subject; on a patch list that would glue "[PATCH v2]" and "[PATCH v3]"
  postings together, so it is not done.

Batch: :func:`thread_messages` over a whole list (10,000 messages take a fraction of a
second). Incremental, one new message at a time, with results identical to the batch:

1. Ask the database for the thread ids of every stored message that shares an id with
   the new one: its own message id, a Reference or its In-Reply-To is in
   :func:`related_ids` of the new message (with a table of references, one query).
2. If the new message ``is_reply`` with neither References nor In-Reply-To, also take
   the threads with a message of the same ``thread_subject`` dated within
   ``subject_window`` before it.
3. Load the :class:`ThreadInput` of every message of those threads, add the new one,
   run :func:`thread_messages` on that set and store its answers for all of them.

Messages inserted in date order give exactly the batch result; a message arriving
out of order is placed correctly by its references, but a reference-less reply that
arrived earlier is not re-matched by subject against it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infrawg.archives.parse import ParsedMessage

__all__ = ["ThreadInput", "Threads", "related_ids", "thread_messages"]

DEFAULT_SUBJECT_WINDOW = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class ThreadInput:
    """What threading needs of a message (all ids normalised, without angle brackets).

    ``date`` should be timezone-aware (UTC), as :class:`ParsedMessage` gives it.
    """

    message_id: str
    in_reply_to: str | None = None
    references: Sequence[str] = ()
    thread_subject: str = ""
    is_reply: bool = False
    date: datetime | None = None

    @classmethod
    def from_parsed(cls, message: ParsedMessage) -> ThreadInput:
        """The threading view of a parsed message."""
        return cls(
            message.message_id,
            message.in_reply_to,
            message.references,
            message.thread_subject,
            message.is_reply,
            message.date,
        )


@dataclass(frozen=True, slots=True)
class Threads:
    """The result: for each input message id, its thread id and its parent.

    ``thread`` maps every input message id to its thread id (possibly the id of a
    message that is not archived, see the module docs). ``parent`` maps every input
    message id to the id of its nearest archived ancestor, or None at the top of a
    thread. ``subject_matched`` lists the messages attached by the subject fallback.
    """

    thread: dict[str, str]
    parent: dict[str, str | None]
    subject_matched: frozenset[str] = field(default_factory=frozenset)

    def members(self) -> dict[str, list[str]]:
        """Thread id -> its message ids, in the (date) order threading saw them."""
        groups: dict[str, list[str]] = {}
        for message_id, thread_id in self.thread.items():
            groups.setdefault(thread_id, []).append(message_id)
        return groups

    def children(self) -> dict[str | None, list[str]]:
        """Parent id -> child ids (key None: top-level messages), for a nested view."""
        tree: dict[str | None, list[str]] = {}
        for message_id, parent_id in self.parent.items():
            tree.setdefault(parent_id, []).append(message_id)
        return tree


def related_ids(message: ThreadInput) -> set[str]:
    """Ids whose threads an incremental insert of ``message`` must load (see module docs)."""
    ids = {message.message_id, *message.references}
    if message.in_reply_to:
        ids.add(message.in_reply_to)
    return ids


def _chronological(messages: Iterable[ThreadInput]) -> list[ThreadInput]:
    # Conflicting References are resolved by arrival order; sorting by date makes a
    # batch over the archive and an incremental re-threading of a few threads agree.
    ordered = list(messages)
    ordered.sort(key=lambda m: (m.date is None, m.date.timestamp() if m.date else 0.0))
    return ordered


def thread_messages(
    messages: Iterable[ThreadInput], *, subject_window: timedelta = DEFAULT_SUBJECT_WINDOW
) -> Threads:
    """Thread ``messages`` (any order) and return each one's thread id and parent.

    Robust to reference cycles, self-references, duplicate ids (the first by date wins;
    later duplicates are ignored) and very long References (every pair is looked at
    once; loop checks are only needed for containers that already have children).
    """
    ordered = _chronological(messages)
    present: dict[str, ThreadInput] = {}
    parent: dict[str, str] = {}  # container id -> parent container id (ghosts included)
    has_children: set[str] = set()

    def creates_cycle(child: str, new_parent: str) -> bool:
        # Only a container with descendants can end up above its new parent.
        if child not in has_children:
            return child == new_parent
        node: str | None = new_parent
        while node is not None:
            if node == child:
                return True
            node = parent.get(node)
        return False

    def link(child: str, new_parent: str) -> None:
        parent[child] = new_parent
        has_children.add(new_parent)

    for message in ordered:
        own = message.message_id
        if own in present:
            continue
        present[own] = message
        chain = [ref for ref in message.references if ref != own]
        direct = message.in_reply_to
        if direct and direct != own and (not chain or chain[-1] != direct):
            # In-Reply-To names the direct parent; References may lack it or, from
            # broken clients, list it somewhere in the middle.
            if direct in chain:
                chain.remove(direct)
            chain.append(direct)
        for ancestor, child in pairwise(chain):
            # Links made earlier by other messages stand (JWZ step 1B).
            if child not in parent and ancestor != child and not creates_cycle(child, ancestor):
                link(child, ancestor)
        if chain:
            # A message's own References decide its own parent (JWZ step 1C).
            direct = chain[-1]
            if parent.get(own) != direct and not creates_cycle(own, direct):
                link(own, direct)

    thread = _roots(parent, present)
    real_parent = _archived_parents(parent, present)
    matched = _subject_fallback(ordered, present, thread, real_parent, subject_window)
    return Threads(thread, real_parent, frozenset(matched))


def _roots(parent: dict[str, str], present: dict[str, ThreadInput]) -> dict[str, str]:
    """Topmost container of every archived message, memoised along each walk."""
    top: dict[str, str] = {}
    for start in present:
        path: list[str] = []
        node = start
        while node not in top:
            path.append(node)
            up = parent.get(node)
            if up is None:
                top[node] = node
                break
            node = up
        root = top[node]
        for visited in path:
            top[visited] = root
    return {message_id: top[message_id] for message_id in present}


def _archived_parents(
    parent: dict[str, str], present: dict[str, ThreadInput]
) -> dict[str, str | None]:
    """Nearest archived ancestor of every archived message (ghosts skipped)."""
    nearest: dict[str, str | None] = {}
    for message_id in present:
        node = parent.get(message_id)
        skipped: list[str] = []
        while node is not None and node not in present and node not in nearest:
            skipped.append(node)
            node = parent.get(node)
        found = nearest[node] if node is not None and node not in present else node
        for ghost in skipped:
            nearest[ghost] = found  # memoise ghost chains shared by many replies
        nearest[message_id] = found
    return {message_id: nearest[message_id] for message_id in present}


def _subject_fallback(
    ordered: list[ThreadInput],
    present: dict[str, ThreadInput],
    thread: dict[str, str],
    real_parent: dict[str, str | None],
    window: timedelta,
) -> list[str]:
    """Attach reference-less replies to the latest earlier message with their subject."""
    # thread ids merged away by this step -> the thread they joined
    merged: dict[str, str] = {}

    def current(thread_id: str) -> str:
        while thread_id in merged:
            thread_id = merged[thread_id]
        return thread_id

    latest: dict[str, ThreadInput] = {}  # subject -> most recent message seen with it
    matched: list[str] = []
    for message in ordered:
        if present.get(message.message_id) is not message:
            continue  # a later duplicate
        subject = message.thread_subject
        orphan = (
            message.is_reply
            and not message.references
            and not message.in_reply_to
            and real_parent[message.message_id] is None
            and thread[message.message_id] == message.message_id
        )
        if orphan and subject:
            candidate = latest.get(subject)
            if candidate is not None and _within(candidate.date, message.date, window):
                target = current(thread[candidate.message_id])
                if target != message.message_id:
                    merged[message.message_id] = target
                    real_parent[message.message_id] = candidate.message_id
                    matched.append(message.message_id)
        if subject:
            latest[subject] = message
    if merged:
        for message_id, thread_id in thread.items():
            if thread_id in merged:
                thread[message_id] = current(thread_id)
    return matched


def _within(earlier: datetime | None, later: datetime | None, window: timedelta) -> bool:
    if earlier is None or later is None:
        return True  # no dates to compare: input order is all there is
    return timedelta(0) <= later - earlier <= window
