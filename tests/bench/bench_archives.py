"""Benchmark of the archives: import rate, peak memory, search latency, thread page time.

Run by `make bench` (PYTHONPATH=.). Imports the 10,000-message linux-i2c corpus
(decompressed first) into a fresh SQLite database and a fresh PostgreSQL database
(INFRAWG_TEST_DATABASE_URL, or postgresql+psycopg://postgres@127.0.0.1:5432/test), each
import in a subprocess whose peak RSS is the import's memory; then, on each database,
times 200 searches of 1-3 words drawn from the corpus and the server time of thread
pages, and prints a table with the targets.
"""

from __future__ import annotations

import json
import lzma
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# shared/corpus beside the checkout, or beside any folder above it (a git worktree's).
CORPUS = next(
    (
        parent / "shared/corpus/linux-i2c-10k.mbox.xz"
        for parent in Path(__file__).resolve().parents
        if (parent / "shared/corpus/linux-i2c-10k.mbox.xz").is_file()
    ),
    Path(__file__).resolve().parents[2].parent / "shared/corpus/linux-i2c-10k.mbox.xz",
)
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LIST = "linux-i2c"
# The larger archive of the import and search rows (0: skip it). BENCH_QUICK=1 skips it.
BIG_MESSAGES = 0 if os.environ.get("BENCH_QUICK") == "1" else 40_000
BIG_MESSAGES = int(os.environ.get("BENCH_BIG_MESSAGES") or BIG_MESSAGES)
BIG_THREAD = "20200908224006.25636-1-digetx@gmail.com"  # 146 messages

IMPORT_CHILD = r"""
import json, resource, sys, time
from flask_migrate import upgrade
from tests.conftest import base_config
from infrawg import create_app
from infrawg.extensions import db
from infrawg.archives.ingest import import_mbox

url, mbox, archive = sys.argv[1:4]
app = create_app(base_config(url) | {"ARCHIVE_DIR": archive})
with app.app_context():
    upgrade(revision="heads")
    start, cpu = time.perf_counter(), time.process_time()
    summary = import_mbox(db.session, "linux-i2c", mbox)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({
    "line": summary.line(), "read": summary.read, "seconds": elapsed, "cpu": cpu,
    "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def run_import(url: str, mbox: Path, archive: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_CHILD, url, str(mbox), str(archive)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def draw_queries(mbox: Path, count: int = 200) -> list[str]:
    from infrawg.archives.mbox import iter_mbox
    from infrawg.archives.parse import parse_message

    rng = random.Random(16)
    words: list[str] = []
    for message in iter_mbox(mbox):
        if message.index % 25:
            continue
        parsed = parse_message(message.raw)
        words.extend(
            w
            for w in re.findall(
                r"[A-Za-z][A-Za-z0-9_]{3,}", parsed.subject + " " + parsed.body_text[:2000]
            )
        )
    return [" ".join(rng.sample(words, rng.randint(1, 3))) for _ in range(count)]


def measure_pages(url: str, archive: Path, queries: list[str]) -> dict:
    from sqlalchemy import func, select

    from infrawg import create_app
    from infrawg.archives import search, service
    from infrawg.archives.models import Message, Thread
    from infrawg.extensions import db
    from infrawg.membership.models import MembershipStatus, Person
    from tests.conftest import base_config, session_user_id

    app = create_app(base_config(url) | {"ARCHIVE_DIR": str(archive)})
    with app.app_context():
        person = Person(
            name="Bench Reader",
            email="bench@example.org",
            status=MembershipStatus.MEMBER,
            declared_foundation_member=True,
        )
        db.session.add(person)
        db.session.commit()
        user_id = session_user_id(person)
        big = db.session.scalar(select(Thread.id).where(Thread.root_key == BIG_THREAD))
        sizes = db.session.execute(
            select(Message.thread_id, func.count())
            .group_by(Message.thread_id)
            .order_by(func.count())
        ).all()
        typical = sizes[len(sizes) // 2][0]
        # The search itself (query + count + one page of highlighted rows), as the page runs it.
        search_times = []
        hits = 0
        for text in queries:
            start = time.perf_counter()
            page = service.search_messages(person, search.SearchQuery(text=text), 1, per_page=20)
            search_times.append((time.perf_counter() - start) * 1000)
            hits += bool(page.items)
        db.session.remove()

    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user_id

    def server_ms(path: str, repeat: int) -> list[float]:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, path
        return times

    search_pages = []
    for text in queries[:50]:
        search_pages.extend(server_ms(f"/archives/search?q={text}", 1))
    server_ms(f"/archives/{LIST}/threads/{typical}", 3)  # warm up templates
    typical_ms = server_ms(f"/archives/{LIST}/threads/{typical}", 20)
    big_ms = server_ms(f"/archives/{LIST}/threads/{big}", 10)
    with app.app_context():
        db.engine.dispose()
    return {
        "search_p50": percentile(search_times, 50),
        "search_p95": percentile(search_times, 95),
        "search_hits": hits,
        "search_page_p95": percentile(search_pages, 95),
        "thread_typical_p50": statistics.median(typical_ms),
        "thread_big_p50": statistics.median(big_ms),
    }


def measure_search(url: str, archive: Path, queries: list[str]) -> dict:
    """Search p50/p95 on a database: the service call and the whole page (test client)."""
    from infrawg import create_app
    from infrawg.archives import search, service
    from infrawg.extensions import db
    from infrawg.membership.models import MembershipStatus, Person
    from tests.conftest import base_config, session_user_id

    app = create_app(base_config(url) | {"ARCHIVE_DIR": str(archive)})
    with app.app_context():
        person = Person(
            name="Bench Reader",
            email="bench@example.org",
            status=MembershipStatus.MEMBER,
            declared_foundation_member=True,
        )
        db.session.add(person)
        db.session.commit()
        user_id = session_user_id(person)
        times, cpu = [], []
        for text in queries:
            start, cpu_start = time.perf_counter(), time.process_time()
            service.search_messages(person, search.SearchQuery(text=text), 1, per_page=20)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - cpu_start) * 1000)
        db.session.remove()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
    pages = []
    for text in queries:
        start = time.perf_counter()
        assert client.get(f"/archives/search?q={text}").status_code == 200
        pages.append((time.perf_counter() - start) * 1000)
    with app.app_context():
        db.engine.dispose()
    return {
        "search_p95": percentile(times, 95),
        # This process's CPU only: all of SQLite's work, none of PostgreSQL's server.
        "search_cpu_p95": percentile(cpu, 95),
        "search_page_p95": percentile(pages, 95),
    }


def main() -> None:
    from tests.servers.live import fresh_database

    if not CORPUS.is_file():
        print(f"bench_archives: corpus missing ({CORPUS}); skipped")
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-archives-"))
    try:
        mbox = tmp / "linux-i2c.mbox"
        with lzma.open(CORPUS) as source, mbox.open("wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        queries = draw_queries(mbox)
        big = tmp / "linux-i2c-big.mbox"
        if BIG_MESSAGES:
            from infrawg.benchdata import replicate_mbox

            with big.open("wb") as target:
                replicate_mbox(mbox, target, BIG_MESSAGES)
        pg = os.environ.get("INFRAWG_TEST_DATABASE_URL") or PG_DEFAULT
        results = {}
        for name, base in (("SQLite", None), ("PostgreSQL", pg)):
            try:
                with fresh_database(base, tmp) as url:
                    archive = tmp / f"archive-{name}"
                    imported = run_import(url, mbox, archive)
                    results[name] = imported | measure_pages(url, archive, queries)
                if BIG_MESSAGES:
                    # The same corpus four times over (Message-IDs rewritten), into an
                    # empty database: the rate should not fall with the archive's size.
                    with fresh_database(base, tmp) as url:
                        archive = tmp / f"archive-big-{name}"
                        grown = run_import(url, big, archive)
                        results[name]["big"] = grown | measure_search(url, archive, queries)
            except Exception as exc:  # a missing server is reported, not fatal
                results[name] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
        print_table(results)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def rate(result: dict) -> float:
    return result["read"] / result["seconds"]


def print_table(results: dict[str, dict]) -> None:
    rows = [
        (
            "import rate (msg/s, wall)",
            lambda r: f"{r['read'] / r['seconds']:,.0f}",
            "≥ 1,000 (SQLite)",
        ),
        ("import rate (msg/s, CPU)", lambda r: f"{r['read'] / r['cpu']:,.0f}", ""),
        ("import peak memory (MiB RSS)", lambda r: f"{r['maxrss_kb'] / 1024:,.0f}", "bounded"),
        ("search p50 (ms)", lambda r: f"{r['search_p50']:.1f}", ""),
        ("search p95 (ms)", lambda r: f"{r['search_p95']:.1f}", "≤ 50"),
        ("queries with hits (of 200)", lambda r: str(r["search_hits"]), ""),
        ("search page p95 (ms, server)", lambda r: f"{r['search_page_p95']:.1f}", ""),
        ("thread page, median thread (ms)", lambda r: f"{r['thread_typical_p50']:.1f}", "≤ 30"),
        ("thread page, 146 messages (ms)", lambda r: f"{r['thread_big_p50']:.1f}", ""),
    ]
    names = list(results)
    print("\nArchives: 10,000 messages of linux-i2c")
    print(f"{'measure':<34}" + "".join(f"{n:>14}" for n in names) + f"  {'target'}")
    for label, value, target in rows:
        cells = []
        for name in names:
            result = results[name]
            cells.append("error" if "error" in result else value(result))
        print(f"{label:<34}" + "".join(f"{c:>14}" for c in cells) + f"  {target}")
    if BIG_MESSAGES and any("big" in r for r in results.values()):
        big_rows = [
            (
                f"import rate, {BIG_MESSAGES:,} messages (msg/s)",
                lambda r: f"{rate(r['big']):,.0f}",
                ">= 1,000",
            ),
            (
                "  rate at 40k / rate at 10k",
                lambda r: f"{rate(r['big']) / rate(r):.2f}",
                "~1 (linear)",
            ),
            (
                "  import peak memory (MiB RSS)",
                lambda r: f"{r['big']['maxrss_kb'] / 1024:,.0f}",
                "bounded",
            ),
            ("search p95, service (ms)", lambda r: f"{r['big']['search_p95']:.1f}", "<= 30"),
            (
                "  its CPU in this process (ms)",
                lambda r: f"{r['big']['search_cpu_p95']:.1f}",
                "(SQLite: all)",
            ),
            (
                "search p95, whole page (ms)",
                lambda r: f"{r['big']['search_page_p95']:.1f}",
                "<= 50",
            ),
        ]
        print(f"\nArchives: {BIG_MESSAGES:,} messages (the corpus repeated), 200 searches")
        for label, value, target in big_rows:
            cells = ["error" if "big" not in results[n] else value(results[n]) for n in names]
            print(f"{label:<34}" + "".join(f"{c:>14}" for c in cells) + f"  {target}")
    for name, result in results.items():
        if "error" in result:
            print(f"{name}: {result['error']}")
        else:
            print(f"{name}: {result['line']}")
            if "big" in result:
                print(f"{name}: {result['big']['line']}")


if __name__ == "__main__":
    main()
