"""Benchmark: SQLite under concurrent writers and readers, by transaction policy.

Run by `make bench` (PYTHONPATH=.). A live site (werkzeug, threaded) on a fresh SQLite
file; WRITERS tenant members post invitations while READERS read pages, for SECONDS each
round, once per policy of `web._sqlite_begin`:

- deferred everywhere: plain BEGIN for every transaction (the old behaviour);
- immediate for writes: BEGIN IMMEDIATE unless the request is GET/HEAD/OPTIONS (the site's);
- immediate everywhere: BEGIN IMMEDIATE for every transaction, reads too.

Prints writes/s, reads/s, read p50/p95 and the 5xx answers of each as a table.
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from infrawg import web
from tests.concurrency import Visitor, live_site, make_person
from tests.conftest import make_organisation

WRITERS = 10
READERS = 10
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
MAX_PER_VISITOR = 5000
POLICIES = {
    "deferred everywhere (old)": frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE"}),
    "immediate for writes (site)": web.SAFE_METHODS,
    "immediate everywhere": frozenset(),
}


def one_round(tmp: Path, deferred_methods: frozenset[str]) -> dict:
    web.SAFE_METHODS = deferred_methods
    with live_site(tmp) as site:
        with site.app.app_context():
            people = [
                make_person(f"Bench {n}", f"bench{n}@example.org") for n in range(WRITERS + READERS)
            ]
            make_organisation("Bench WG", *people)
            emails = [p.email for p in people]
        visitors = [Visitor(site.url).sign_in(email) for email in emails]
        for visitor in visitors:
            visitor.get("/organisations/bench-wg")
        writes, reads, read_times, server_errors = [0], [0], [], [0]
        lock = threading.Lock()
        deadline = time.monotonic() + SECONDS

        def writer(n: int) -> None:
            for i in range(MAX_PER_VISITOR):
                if time.monotonic() > deadline:
                    return
                status = (
                    visitors[n]
                    .post("/organisations/bench-wg/invite", {"email": f"g{n}-{i}@example.org"})
                    .status_code
                )
                with lock:
                    writes[0] += status == 303
                    server_errors[0] += status >= 500

        def reader(n: int) -> None:
            for i in range(MAX_PER_VISITOR):
                if time.monotonic() > deadline:
                    return
                path = "/organisations/bench-wg" if i % 2 else "/dashboard"
                began = time.perf_counter()
                status = visitors[n].get(path).status_code
                elapsed = time.perf_counter() - began
                with lock:
                    reads[0] += status == 200
                    server_errors[0] += status >= 500
                    read_times.append(elapsed)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        threads += [
            threading.Thread(target=reader, args=(n,)) for n in range(WRITERS, WRITERS + READERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=SECONDS + 60)
    quantiles = statistics.quantiles(read_times, n=100) if len(read_times) > 1 else [0] * 99
    return {
        "writes/s": writes[0] / SECONDS,
        "reads/s": reads[0] / SECONDS,
        "read p50 ms": quantiles[49] * 1000,
        "read p95 ms": quantiles[94] * 1000,
        "5xx": server_errors[0],
    }


def main() -> None:
    os.environ.pop("INFRAWG_TEST_DATABASE_URL", None)  # SQLite files only
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    original = web.SAFE_METHODS
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, methods in POLICIES.items():
                rows.append((name, one_round(Path(tmp), methods)))
    finally:
        web.SAFE_METHODS = original
    print(
        f"\nSQLite: {WRITERS} writers + {READERS} readers for {SECONDS:.0f} s per policy "
        "(werkzeug, threaded)\n"
    )
    columns = list(rows[0][1])
    print(f"| {'policy':<28} | " + " | ".join(f"{c:>11}" for c in columns) + " |")
    print("|" + "-" * 30 + "|" + "|".join("-" * 13 for _ in columns) + "|")
    for name, row in rows:
        cells = " | ".join(
            f"{row[c]:>11.0f}" if c == "5xx" else f"{row[c]:>11.1f}" for c in columns
        )
        print(f"| {name:<28} | {cells} |")


if __name__ == "__main__":
    main()
