"""JWZ threading: references, ghosts, cycles, subject fallback, incremental use, speed."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from infrawg.archives.threading import ThreadInput, Threads, related_ids, thread_messages

T0 = datetime(2020, 1, 1, tzinfo=UTC)


def msg(
    message_id: str,
    *references: str,
    in_reply_to: str | None = None,
    subject: str = "",
    is_reply: bool = False,
    minute: int = 0,
) -> ThreadInput:
    return ThreadInput(
        message_id,
        in_reply_to,
        references,
        subject,
        is_reply,
        T0 + timedelta(minutes=minute),
    )


def test_patch_series_with_replies() -> None:
    messages = [
        msg("cover", minute=0),
        msg("p1", "cover", in_reply_to="cover", minute=1),
        msg("p2", "cover", in_reply_to="cover", minute=2),
        msg("r1", "cover", "p1", in_reply_to="p1", minute=3),
        msg("r2", "cover", "p1", "r1", in_reply_to="r1", minute=4),
        msg("other", minute=5),
    ]

    threads = thread_messages(messages)

    assert threads.thread == {m.message_id: "cover" for m in messages[:5]} | {"other": "other"}
    assert threads.parent == {
        "cover": None,
        "p1": "cover",
        "p2": "cover",
        "r1": "p1",
        "r2": "r1",
        "other": None,
    }
    assert threads.children()["cover"] == ["p1", "p2"]
    assert threads.members()["cover"] == ["cover", "p1", "p2", "r1", "r2"]


def test_input_order_does_not_matter() -> None:
    messages = [
        msg("a", minute=0),
        msg("b", "a", minute=1),
        msg("c", "a", "b", minute=2),
    ]
    assert thread_messages(reversed(messages)) == thread_messages(messages)


def test_replies_to_a_missing_message_share_a_ghost_rooted_thread() -> None:
    replies = [msg("r1", "lost", minute=1), msg("r2", "lost", minute=2)]

    threads = thread_messages(replies)

    assert threads.thread == {"r1": "lost", "r2": "lost"}
    assert threads.parent == {"r1": None, "r2": None}
    # When the lost message turns up, the thread keeps its id.
    later = thread_messages([*replies, msg("lost", minute=0)])
    assert later.thread == {"r1": "lost", "r2": "lost", "lost": "lost"}
    assert later.parent == {"r1": "lost", "r2": "lost", "lost": None}


def test_middle_ghost_is_skipped_in_parent_links() -> None:
    threads = thread_messages([msg("a"), msg("c", "a", "b-missing", minute=2)])
    assert threads.parent["c"] == "a"
    assert threads.thread["c"] == "a"


def test_in_reply_to_alone_and_in_reply_to_missing_from_references() -> None:
    threads = thread_messages(
        [
            msg("a"),
            msg("b", in_reply_to="a", minute=1),
            msg("c", "a", in_reply_to="b", minute=2),
        ]
    )
    assert threads.parent == {"a": None, "b": "a", "c": "b"}


def test_reference_cycles_and_self_references_terminate() -> None:
    messages = [
        msg("a", "b", minute=0),
        msg("b", "a", minute=1),
        msg("c", "c", "a", "c", minute=2),
        msg("d", "x", "y", minute=3),
        msg("e", "y", "x", minute=4),
    ]

    threads = thread_messages(messages)

    assert set(threads.thread) == {"a", "b", "c", "d", "e"}
    assert threads.parent["c"] == "a"
    assert len({threads.thread[m] for m in "abc"}) == 1
    assert threads.thread["d"] == threads.thread["e"]
    for message_id in threads.parent:  # every parent chain ends
        seen = set()
        node: str | None = message_id
        while node is not None:
            assert node not in seen
            seen.add(node)
            node = threads.parent[node]


def test_thousand_references() -> None:
    chain = [f"m{i}" for i in range(1000)]
    messages = [msg(chain[0])] + [msg(chain[i], *chain[:i], minute=i) for i in range(1, len(chain))]
    started = time.perf_counter()

    threads = thread_messages(messages)

    assert time.perf_counter() - started < 5
    assert set(threads.thread.values()) == {"m0"}
    assert threads.parent["m999"] == "m998"


def test_duplicate_ids_keep_the_first() -> None:
    threads = thread_messages([msg("a", minute=0), msg("a", "zzz", minute=5)])
    assert threads.thread == {"a": "a"}


def test_subject_fallback_only_for_reference_less_replies() -> None:
    messages = [
        msg("p", subject="i2c: fix foo", minute=0),
        msg("broken", subject="i2c: fix foo", is_reply=True, minute=5),
        msg("repost", subject="i2c: fix foo", is_reply=False, minute=6),
        msg("late", subject="i2c: fix foo", is_reply=True, minute=60 * 24 * 200),
        msg("other", subject="something else", is_reply=True, minute=7),
    ]

    threads = thread_messages(messages)

    assert threads.thread["broken"] == "p"
    assert threads.parent["broken"] == "p"
    assert threads.subject_matched == {"broken"}
    assert threads.thread["repost"] == "repost"  # a new posting is not a reply
    assert threads.thread["late"] == "late"  # outside the window
    assert threads.thread["other"] == "other"


def test_subject_fallback_brings_along_the_orphans_replies() -> None:
    threads = thread_messages(
        [
            msg("p", subject="hello", minute=0),
            msg("orphan", subject="hello", is_reply=True, minute=1),
            msg("child", "orphan", subject="hello", is_reply=True, minute=2),
        ]
    )
    assert threads.thread == {"p": "p", "orphan": "p", "child": "p"}
    assert threads.parent["child"] == "orphan"


def test_ten_thousand_messages_in_well_under_a_second_or_two() -> None:
    messages = []
    for t in range(1000):
        root = f"t{t}"
        messages.append(msg(root, subject=f"topic {t}", minute=t))
        for r in range(1, 10):
            refs = [root] + [f"t{t}.{k}" for k in range(1, r)]
            messages.append(
                msg(f"t{t}.{r}", *refs, subject=f"topic {t}", is_reply=True, minute=t + r)
            )

    started = time.perf_counter()
    threads = thread_messages(messages)
    elapsed = time.perf_counter() - started

    assert len(threads.thread) == 10_000
    assert len(threads.members()) == 1000
    assert elapsed < 2


def thread_incrementally(messages: list[ThreadInput], window: timedelta) -> Threads:
    """The recipe of the module docs, with dicts standing in for the database."""
    stored: dict[str, ThreadInput] = {}
    thread: dict[str, str] = {}
    parent: dict[str, str | None] = {}
    members: dict[str, set[str]] = defaultdict(set)  # thread id -> its messages
    by_id: dict[str, set[str]] = defaultdict(set)  # id -> stored messages that carry it
    by_subject: dict[str, set[str]] = defaultdict(set)
    for new in sorted(messages, key=lambda m: m.date or T0):
        if new.message_id in stored:
            continue  # the database keeps the first copy of a Message-ID
        ids = related_ids(new)
        affected = {thread[s] for i in ids for s in by_id[i]}
        if new.is_reply and not new.references and not new.in_reply_to:
            affected |= {
                thread[s]
                for s in by_subject[new.thread_subject]
                if new.date - window <= stored[s].date <= new.date
            }
        subset = [stored[m] for t in affected for m in members[t]] + [new]
        result = thread_messages(subset, subject_window=window)
        stored[new.message_id] = new
        for i in ids:
            by_id[i].add(new.message_id)
        if new.thread_subject:
            by_subject[new.thread_subject].add(new.message_id)
        for message_id, thread_id in result.thread.items():
            old = thread.get(message_id)
            if old is not None:
                members[old].discard(message_id)
            members[thread_id].add(message_id)
        thread.update(result.thread)
        parent.update(result.parent)
    return Threads(thread, parent)


def test_incremental_recipe_matches_the_batch() -> None:
    messages = [
        msg("r1", "lost", subject="a", minute=1),
        msg("r2", "lost", subject="a", is_reply=True, minute=2),
        msg("x", subject="b", minute=3),
        msg("x2", "lost", "x", subject="b", is_reply=True, minute=4),
        msg("orphan", subject="b", is_reply=True, minute=5),
        msg("kid", "orphan", subject="b", is_reply=True, minute=6),
        msg("lost", subject="a", minute=0),
        msg("solo", subject="c", minute=7),
    ]
    window = timedelta(days=90)

    batch = thread_messages(messages, subject_window=window)
    incremental = thread_incrementally(messages, window)

    assert incremental.thread == batch.thread
    assert incremental.parent == batch.parent
