"""Benchmark of the pages: req/s of each page as a ratio of a bare Flask page's, same run.

Run by `make bench` (PYTHONPATH=.), not by `make test`. For each engine (SQLite, and
PostgreSQL on INFRAWG_TEST_DATABASE_URL's server or postgresql+psycopg://postgres@127.0.0.1:5432/test)
and each size (the demo data; with BENCH_FOUNDATION=1 a foundation's size, made by
`flask infrawg bench-data`), on a fresh database:

- serves the site and a bare Flask page (tests/bench/bare_app.py) under the same gunicorn
  (2 sync workers), drives both with wrk (8 connections), rounds interleaved: bare, then
  every page, BENCH_ROUNDS times; each page's figure is the median over the rounds of its
  req/s divided by the bare page's req/s of the same round;
- then profiles each page in-process (cProfile over the Flask test client on the same
  database) and prints where the time goes: SQL (queries and time per request), templates,
  the app's own code, Flask and the rest.

BENCH_BASELINE=<git revision>: the same database is served by that revision's code too,
in the same rounds, as extra rows (before/after on one noisy machine).
BENCH_QUICK=1: one round of 2 s per page, no profile (about a minute per engine).
BENCH_ENGINES=sqlite,postgresql picks the engines; BENCH_PROFILE=0 skips the profile.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.bench.load_site import PG_DEFAULT, ROOT, User, prepare, stop
from tests.servers.live import fresh_database
from tests.servers.ports import free_port

BIN = Path(sys.executable).parent
QUICK = os.environ.get("BENCH_QUICK") == "1"
ROUNDS = int(os.environ.get("BENCH_ROUNDS") or (1 if QUICK else 3))
SECONDS = float(os.environ.get("BENCH_SECONDS") or (2 if QUICK else 5))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
PROFILE = os.environ.get("BENCH_PROFILE", "0" if QUICK else "1") == "1"
FOUNDATION = os.environ.get("BENCH_FOUNDATION") == "1"
# A commit (or any git revision) whose code serves the same database beside this tree's.
BASELINE = os.environ.get("BENCH_BASELINE", "")
ENGINES = os.environ.get("BENCH_ENGINES", "sqlite,postgresql").split(",")
CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')
THREAD_LINK = re.compile(r'href="(/archives/infra/threads/\d+)"')
RESULTS_LINK = re.compile(r'href="(/surveys/\d+/results)"')

# (row, who signs in, target ratio). The two floors have no target: the site's cheapest
# route (/healthz answers from memory) without and with a signed-in session, i.e. what
# every page pays before its own work (the app's hooks; then the session, its person and
# the last-seen check), so a page's ratio can be read against the best it could reach.
PAGES: list[tuple[str, str | None, float | None]] = [
    ("floor: /healthz, anonymous", None, None),
    ("floor: /healthz, signed in", "member1@example.org", None),
    ("member dashboard", "member1@example.org", 0.35),
    ("archive thread page", "member1@example.org", 0.35),
    ("archive search results", "member1@example.org", 0.25),
    ("people directory", "member1@example.org", 0.35),
    ("survey results", "chair@example.org", 0.30),
]


def median_thread(http: requests.Session, base: str) -> str:
    """A thread of middling size from the list's first page (threads are the bench's)."""
    paths = sorted(set(THREAD_LINK.findall(http.get(f"{base}/archives/infra/", timeout=30).text)))
    if not paths:
        sys.exit("no thread on /archives/infra/")
    return paths[len(paths) // 2]


def page_paths(base: str, password: str, totp: str) -> tuple[dict[str, str], dict[str, str]]:
    """Each row's path, and each row's session cookie."""
    User.sessions.clear()  # a fresh database: sign in again
    sessions = {email: User(base, email, password, totp).http for _, email, _ in PAGES if email}
    member = sessions["member1@example.org"]
    chair = sessions["chair@example.org"]
    results = RESULTS_LINK.findall(chair.get(f"{base}/surveys", timeout=30).text)
    if not results:
        sys.exit("no survey with results on /surveys")
    paths = {
        "floor: /healthz, anonymous": "/healthz",
        "floor: /healthz, signed in": "/healthz",
        "member dashboard": "/dashboard",
        "archive thread page": median_thread(member, base),
        "archive search results": "/archives/search?q=driver",
        "people directory": "/people",
        "survey results": results[0],
    }
    cookies = {}
    for row, email, _ in PAGES:
        http = sessions[email] if email else requests.Session()
        response = http.get(base + paths[row], allow_redirects=False, timeout=30)
        if response.status_code != 200:
            sys.exit(f"{row}: {paths[row]} answered {response.status_code}")
        cookies[row] = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    return paths, cookies


def gunicorn(
    env: dict[str, str], app: str, port: int, log: Path, cwd: Path = ROOT
) -> subprocess.Popen:
    """``app`` under the production settings (deploy/gunicorn.conf.py: its access log,
    its hooks), with sync workers; its output goes to ``log``."""
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--config",
            "deploy/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "sync",
            app,
        ],
        cwd=cwd,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    SERVERS[f"127.0.0.1:{port}"] = server.pid
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn {app} exited at start:\n{log.read_text()[-3000:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=10)
            return server
        except requests.RequestException:
            time.sleep(0.3)
    stop(server)
    sys.exit(f"gunicorn {app} did not answer within 60 s")


TICK = os.sysconf("SC_CLK_TCK")


def server_cpu(url: str) -> float:
    """CPU seconds used so far by the gunicorn workers that serve ``url``."""
    master = SERVERS[url.split("/")[2]]
    total = 0.0
    for task in Path(f"/proc/{master}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    return total


# host:port -> the gunicorn master's pid (its workers are its children)
SERVERS: dict[str, int] = {}


def wrk(url: str, cookie: str | None = None, seconds: float = SECONDS) -> tuple[float, int, float]:
    """(requests per second, responses that were not 2xx/3xx or failed, CPU ms of the
    workers per request). The CPU figure hardly depends on what else the machine runs;
    it leaves out the database server's own CPU (PostgreSQL's backends)."""
    cpu = server_cpu(url)
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--timeout", "10s"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    cpu = server_cpu(url) - cpu
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    done = int(re.search(r"(\d+) requests in", out).group(1))
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket = re.search(r"Socket errors: connect (\d+), read \d+, write (\d+), timeout (\d+)", out)
    if socket:
        bad += int(socket.group(1)) + int(socket.group(2)) + int(socket.group(3))
    return rate, bad, cpu * 1000 / max(done, 1)


def measure(
    sites: dict[str, str], bare: str, paths: dict[str, str], cookies: dict[str, str]
) -> dict:
    """Interleaved rounds: the bare page, then each page on each site (this tree, and the
    baseline's when there is one); ratios within a round."""
    rows = [(row, site) for row in paths for site in sites]
    for row, site in rows:  # warm up: templates compiled, connections open, caches filled
        wrk(sites[site] + paths[row], cookies[row], seconds=1)
    wrk(bare, seconds=1)
    keys = [row if site == "site" else f"{row} [{site}]" for row, site in rows]
    ratios: dict[str, list[float]] = {key: [] for key in keys}
    rates: dict[str, list[float]] = {key: [] for key in keys} | {"bare": []}
    cpu: dict[str, list[float]] = {key: [] for key in keys} | {"bare": []}
    cpu_ratios: dict[str, list[float]] = {key: [] for key in keys}
    errors: dict[str, int] = {key: 0 for key in keys}
    for _ in range(ROUNDS):
        reference, _, reference_cpu = wrk(bare)
        rates["bare"].append(reference)
        cpu["bare"].append(reference_cpu)
        for key, (row, site) in zip(keys, rows, strict=True):
            rate, bad, ms = wrk(sites[site] + paths[row], cookies[row])
            rates[key].append(rate)
            ratios[key].append(rate / reference)
            cpu[key].append(ms)
            cpu_ratios[key].append(reference_cpu / ms if ms else 0.0)
            errors[key] += bad
    return {
        "ratio": {row: statistics.median(v) for row, v in ratios.items()},
        "rate": {row: statistics.median(v) for row, v in rates.items()},
        "cpu": {row: statistics.median(v) for row, v in cpu.items()},
        "cpu_ratio": {row: statistics.median(v) for row, v in cpu_ratios.items()},
        "errors": errors,
    }


PROFILE_CHILD = r"""
import cProfile, json, pstats, sys, time
from sqlalchemy import event
from wsgi import app
from infrawg.extensions import db

paths, cookies, repeat = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
with app.app_context():
    engine = db.engine
sql = {"n": 0, "t": 0.0}
def before(conn, cursor, statement, parameters, context, executemany):
    context._bench_start = time.perf_counter()
def after(conn, cursor, statement, parameters, context, executemany):
    sql["n"] += 1
    sql["t"] += time.perf_counter() - context._bench_start
event.listen(engine, "before_cursor_execute", before)
event.listen(engine, "after_cursor_execute", after)
out = {}
for row, path in paths.items():
    client = app.test_client()
    for part in filter(None, cookies[row].split("; ")):
        name, _, value = part.partition("=")
        client.set_cookie(name, value)
    for _ in range(3):
        assert client.get(path).status_code == 200, path
    sql["n"], sql["t"] = 0, 0.0
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    for _ in range(repeat):
        client.get(path)
    profile.disable()
    wall = time.perf_counter() - start
    queries, sql_time = sql["n"], sql["t"]
    stats = pstats.Stats(profile)
    by_part = {}
    for (filename, line, name), (cc, nc, tt, ct, callers) in stats.stats.items():
        if "sqlalchemy" in filename or "psycopg" in filename or "sqlite3" in filename:
            part = "SQLAlchemy + driver (Python)"
        elif "jinja2" in filename or "markupsafe" in filename or "/templates/" in filename:
            part = "Jinja2"
        elif "/infrawg/" in filename:
            part = "infrawg"
        elif "flask_limiter" in filename or "limits/" in filename:
            part = "rate limiter"
        elif "flask_wtf" in filename or "wtforms" in filename or "itsdangerous" in filename:
            part = "CSRF, forms, signing"
        elif "flask" in filename or "werkzeug" in filename or "blinker" in filename:
            part = "Flask, Werkzeug"
        else:
            part = "other"
        by_part[part] = by_part.get(part, 0.0) + tt
    own = []
    for (filename, line, name), (cc, nc, tt, ct, callers) in stats.stats.items():
        if "/infrawg/" in filename or "/templates/" in filename:
            short = filename.split("/infrawg/")[-1] if "/infrawg/" in filename else filename
            own.append((ct, f"{short}:{line} {name}", nc))
    own.sort(reverse=True)
    total = sum(by_part.values()) or 1.0
    out[row] = {
        "ms": wall / repeat * 1000,
        "queries": queries / repeat,
        "sql_ms": sql_time / repeat * 1000,
        "parts": {k: v / total for k, v in sorted(by_part.items(), key=lambda i: -i[1])},
        "top": [(ct / repeat * 1000, label, nc // repeat) for ct, label, nc in own[:12]],
    }
print(json.dumps(out))
"""


def profile(env: dict[str, str], paths: dict[str, str], cookies: dict[str, str]) -> dict:
    repeat = "20"
    done = subprocess.run(
        [sys.executable, "-c", PROFILE_CHILD, json.dumps(paths), json.dumps(cookies), repeat],
        cwd=ROOT,
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_engine(engine: str, size: str) -> dict:
    base_url = None
    if engine == "postgresql":
        base_url = os.environ.get("INFRAWG_TEST_DATABASE_URL") or PG_DEFAULT
        if not base_url.startswith("postgresql"):
            base_url = PG_DEFAULT
    tmp = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    try:
        with fresh_database(base_url, tmp) as url:
            env = {
                **os.environ,
                "FLASK_APP": "wsgi",
                "INFRAWG_DATABASE_URL": url,
                "INFRAWG_SECRET_KEY": secrets.token_urlsafe(32),
                "INFRAWG_MAIL_BACKEND": "outbox",
                "INFRAWG_ARCHIVE_DIR": str(tmp / "archive"),
                "INFRAWG_EMBEDDED_WORKER": "0",
                "INFRAWG_RATELIMIT_SIGNIN": "10000 per minute",
            }
            env.pop("INFRAWG_REDIS_URL", None)
            password, totp = prepare(env, tmp)
            if size == "foundation":
                from tests.bench.load_site import corpus, flask

                source = corpus()
                extra = ["--corpus", str(source)] if source else ["--messages", "0"]
                flask(env, "infrawg", "bench-data", *extra, timeout=3600)  # ~10-20 min
            site_port, bare_port = free_port(), free_port()
            log = tmp / "gunicorn.log"
            servers = [
                gunicorn(env, "wsgi:app", site_port, log),
                gunicorn(env, "tests.bench.bare_app:app", bare_port, log),
            ]
            sites = {"site": f"http://127.0.0.1:{site_port}"}
            try:
                if BASELINE:
                    # The same database served by the code of another commit, measured in
                    # the same rounds: a before/after that the machine's noise cannot fake.
                    tree = tmp / "baseline"
                    tree.mkdir()
                    archive = subprocess.run(
                        ["git", "archive", BASELINE], cwd=ROOT, capture_output=True, check=True
                    ).stdout
                    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
                    port = free_port()
                    servers.append(gunicorn(env, "wsgi:app", port, log, cwd=tree))
                    sites[f"at {BASELINE}"] = f"http://127.0.0.1:{port}"
                paths, cookies = page_paths(sites["site"], password, totp)
                bare = f"http://127.0.0.1:{bare_port}/"
                result = measure(sites, bare, paths, cookies)
            finally:
                for server in servers:
                    stop(server)
            if PROFILE:
                result["profile"] = profile(env, paths, cookies)
            result["paths"] = paths
            return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def print_table(size: str, results: dict[str, dict]) -> None:
    names = list(results)
    print(
        f"\nPages, {size} data: req/s as a ratio of a bare Flask page's (gunicorn {WORKERS} "
        f"sync workers, wrk {CONNECTIONS} connections, median of {ROUNDS} interleaved "
        f"round(s) of {SECONDS:g} s).\nEach cell: the req/s ratio, the CPU ratio (the bare "
        "page's worker CPU per request over the page's), then req/s and worker CPU ms per "
        "request."
    )
    width = max(len(row) for row in results[names[0]].get("ratio", {"": 0})) + 2
    width = max(width, 24)
    header = f"| {'measure':<{width}} |" + "".join(f" {n:>30} |" for n in names) + " target |"
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    rows: list[tuple[str, float | None]] = []
    for row, _, target in PAGES:
        rows.append((row, target))
        if BASELINE:
            rows.append((f"{row} [at {BASELINE}]", target))
    cells = [
        "error" if "error" in r else f"{r['rate']['bare']:,.0f}/s {r['cpu']['bare']:.2f}ms"
        for r in results.values()
    ]
    row = "bare Flask page (req/s)"
    print(f"| {row:<{width}} |" + "".join(f" {c:>30} |" for c in cells) + f" {'':>6} |")
    for row, target in rows:
        cells = []
        for name in names:
            r = results[name]
            if "error" in r:
                cells.append("error")
            else:
                bad = f" {r['errors'][row]}err" if r["errors"][row] else ""
                cells.append(
                    f"{r['ratio'][row]:.2f} {r['cpu_ratio'][row]:.2f} "
                    f"({r['rate'][row]:,.0f}/s {r['cpu'][row]:.1f}ms){bad}"
                )
        goal = f">={target:.2f}" if target else ""
        print(f"| {row:<{width}} |" + "".join(f" {c:>30} |" for c in cells) + f" {goal:>6} |")
    for name, r in results.items():
        if "error" in r:
            print(f"{name}: {r['error']}")
        prof = r.get("profile")
        if not prof:
            continue
        print(f"\nWhere the time goes, {name}, {size} data (in-process, cProfile, per request):")
        if "error" in prof:
            print(prof["error"])
            continue
        for row, p in sorted(prof.items(), key=lambda i: -i[1]["ms"]):
            parts = ", ".join(f"{k} {v:.0%}" for k, v in p["parts"].items() if v >= 0.03)
            print(
                f"- {row}: {p['ms']:.1f} ms, {p['queries']:.0f} queries "
                f"({p['sql_ms']:.1f} ms in the database driver); {parts}"
            )
            for ms, label, calls in p["top"][:8]:
                print(f"    {ms:6.1f} ms  x{calls:<3} {label}")


def main() -> int:
    if shutil.which("wrk") is None:
        print("bench_pages: wrk is missing (apt-get install wrk); skipped")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    sizes = ["demo"] + (["foundation"] if FOUNDATION else [])
    for size in sizes:
        results = {}
        for engine in ENGINES:
            name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[engine]
            try:
                results[name] = run_engine(engine, size)
            except (subprocess.SubprocessError, OSError, requests.RequestException) as exc:
                results[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        print_table(size, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
