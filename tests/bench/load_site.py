"""Load test: concurrent users against gunicorn on a fresh PostgreSQL database.

Run by `make load` (PYTHONPATH=.), not by `make test`. Makes a fresh PostgreSQL database
(on INFRAWG_TEST_DATABASE_URL's server, or postgresql+psycopg://postgres@127.0.0.1:5432/test),
builds it with `flask db upgrade`, loads `flask infrawg demo` (and the first messages of
the archive corpus when the demo could not find it), serves the site with gunicorn on a
loopback port, then runs LOAD_USERS users (default 50) for LOAD_SECONDS (default 60) over
a mix of pages: home, goals, archives, a list, threads, search, and the dashboard signed
in, and two writes: a member saving a survey answer as a draft, and a tenant member
changing a DNS record of their zone (the demo's zone is made active for it, with one
record). Two runs on the same server: first the users as people use a site, each reading
a page for 1-3 s before the next (LOAD_THINK, as locust's ``between(1, 3)``: the target's
run), then the same users with no pause at all (a stress run: every user a tight loop, so
latency is queueing behind the server's throughput). Prints requests, errors and
p50/p95/p99 per page as a table for each; the database is dropped afterwards. Every
request goes to 127.0.0.1; every loop is bounded in time and count.
"""

from __future__ import annotations

import lzma
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import pyotp
import requests

from tests.servers.live import fresh_database
from tests.servers.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
USERS = int(os.environ.get("LOAD_USERS", "50"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
WORKERS = int(os.environ.get("LOAD_WORKERS", "4"))
THREADS = int(os.environ.get("LOAD_THREADS", "4"))
# Seconds a user spends on a page before the next one: "low-high" (the first run).
THINK = tuple(float(s) for s in os.environ.get("LOAD_THINK", "1-3").split("-", 1))
MAX_REQUESTS_PER_USER = 100_000  # a bound besides the clock
TIMEOUT = 30
SIGNED_IN_SHARE = 0.8  # the archives and the dashboard are for members
MEMBERS = ["member1@example.org", "member2@example.org", "staff1@example.org",
           "tenant1@example.org", "chair@example.org"]  # fmt: skip
SEARCHES = ["i2c", "driver", "clock stretching", "dma", "patch review", "smbus"]
ARCHIVE_MESSAGES = 500
CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')
THREAD_LINK = re.compile(r'href="(/archives/infra/threads/\d+)"')

DNS_EDITOR = "tenant1@example.org"  # a tenant member of the demo zone's organisation

# (page, weight, who: None for anyone, "member" for the signed-in, or one email)
MIX = [
    ("home", 10, None),
    ("goals", 5, None),
    ("archives", 5, "member"),
    ("list", 10, "member"),
    ("thread", 25, "member"),
    ("search", 15, "member"),
    ("dashboard", 15, "member"),
    ("survey save", 10, "member"),
    ("dns edit", 20, DNS_EDITOR),
]

# Run in the app (a child process): the demo zone made active, with one A record to edit.
DNS_SETUP = r"""
import sys
from sqlalchemy import select
from wsgi import app
from infrawg.extensions import db
from infrawg.membership.models import Person
from infrawg.provisioning.kinds.dns import zones
from infrawg.provisioning.kinds.dns.models import DnsZone
from infrawg.provisioning.models import Service, ServiceState
with app.app_context():
    service = db.session.scalars(
        select(Service).join(DnsZone, DnsZone.service_id == Service.id).order_by(Service.id)
    ).first()
    editor = db.session.scalar(select(Person).where(Person.email == sys.argv[1]))
    service.state = ServiceState.ACTIVE
    record = zones.add_record(editor, service, "www", "A", 3600, "192.0.2.1")
    db.session.commit()
    print(service.id, record.id)
"""


def corpus() -> Path | None:
    for parent in ROOT.parents:
        candidate = parent / "shared/corpus/linux-i2c-10k.mbox.xz"
        if candidate.is_file():
            return candidate
    return None


def archive_slice(source: Path, target: Path, messages: int) -> None:
    """The first ``messages`` messages of an xz mbox, as a plain mbox."""
    seen = 0
    with lzma.open(source, "rb") as src, target.open("wb") as out:
        for line in src:
            if line.startswith(b"From "):
                seen += 1
                if seen > messages:
                    break
            out.write(line)


def flask(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(BIN / "flask"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def prepare(env: dict[str, str], tmp: Path) -> tuple[str, str]:
    """Schema and demo data; returns the demo password and the staff's authenticator key."""
    flask(env, "db", "upgrade")
    out = flask(env, "infrawg", "demo")
    lines = out.splitlines()
    marker = next(i for i, line in enumerate(lines) if "has the password" in line)
    password = lines[marker + 1].strip()
    key = next(i for i, line in enumerate(lines) if "authenticator-app" in line)
    totp = next(line.strip() for line in lines[key + 1 :] if line.startswith("    "))
    if "no archive loaded" in out:
        source = corpus()
        if source is None:
            sys.exit("The archive corpus (shared/corpus/linux-i2c-10k.mbox.xz) is missing.")
        mbox = tmp / "infra.mbox"
        archive_slice(source, mbox, ARCHIVE_MESSAGES)
        flask(env, "infrawg", "archive", "import", "infra", str(mbox))
    return password, totp


def dns_setup(env: dict[str, str]) -> tuple[int, int] | None:
    """(service id, record id) of the record the DNS editor changes; None if not made."""
    done = subprocess.run(
        [sys.executable, "-c", DNS_SETUP, DNS_EDITOR],
        cwd=ROOT,
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        print(f"DNS record setup failed, no DNS edits:\n{done.stderr[-1500:]}")
        return None
    service_id, record_id = done.stdout.split()[-2:]
    return int(service_id), int(record_id)


def start_gunicorn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    """The production settings (deploy/gunicorn.conf.py: gthread, keep-alive 5 s, which
    outlasts a user's pause on a page) with this run's workers and threads; the access log
    and the app's request lines go to ``log``."""
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--config",
            "deploy/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--threads",
            str(THREADS),
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited at start:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.3)
    stop(server)
    sys.exit("gunicorn did not answer within 60 s")


def stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


class User:
    # One sign-in per person, its cookies shared by the users who are that person: staff and
    # the chair sign in with a TOTP code, and a code works once.
    sessions: dict[str, tuple[requests.cookies.RequestsCookieJar, str]] = {}

    def __init__(self, base: str, email: str | None, password: str, totp: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.email = email
        self.signed_in = email is not None
        self.token = ""
        if email is not None:
            if email not in User.sessions:
                User.sessions[email] = self.sign_in(email, password, totp)
            cookies, self.token = User.sessions[email]
            self.http.cookies.update(cookies)

    def sign_in(
        self, email: str, password: str, totp: str
    ) -> tuple[requests.cookies.RequestsCookieJar, str]:
        page = self.http.get(f"{self.base}/signin", timeout=TIMEOUT)
        token = CSRF.search(page.text).group(1)
        response = self.http.post(
            f"{self.base}/signin",
            data={"email": email, "password": password, "csrf_token": token},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        if response.status_code != 303:
            sys.exit(f"sign-in of {email} answered {response.status_code}")
        if response.headers["Location"].endswith("/signin/two-factor"):
            page = self.http.get(f"{self.base}/signin/two-factor", timeout=TIMEOUT)
            response = self.http.post(
                f"{self.base}/signin/two-factor",
                data={
                    "code": pyotp.TOTP(totp).now(),
                    "csrf_token": CSRF.search(page.text).group(1),
                },
                allow_redirects=False,
                timeout=TIMEOUT,
            )
            if response.status_code != 303:
                sys.exit(f"second factor of {email} answered {response.status_code}")
        # The signed-in session's token, for the writes.
        page = self.http.get(f"{self.base}/dashboard", timeout=TIMEOUT)
        return self.http.cookies, CSRF.search(page.text).group(1)

    def may(self, who: str | None) -> bool:
        return who is None or (who == "member" and self.signed_in) or who == self.email

    def get(self, path: str) -> int:
        return self.http.get(self.base + path, allow_redirects=False, timeout=TIMEOUT).status_code

    def post(self, path: str, data: dict[str, str]) -> int:
        response = self.http.post(
            self.base + path,
            data={"csrf_token": self.token, **data},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        # A write answers 303 (see other); a form shown again (4xx) is an error here.
        return response.status_code


def thread_paths(user: User) -> list[str]:
    paths: list[str] = []
    for month_page in ("/archives/infra/", "/archives/infra/?page=2"):
        text = user.http.get(user.base + month_page, timeout=TIMEOUT).text
        paths += THREAD_LINK.findall(text)
    return sorted(set(paths)) or ["/archives/infra/"]


def open_survey(user: User) -> int | None:
    text = user.http.get(user.base + "/surveys", timeout=TIMEOUT).text
    # The newest survey is the demo's open one.
    found = sorted(int(n) for n in re.findall(r'href="/surveys/(\d+)"', text))
    return found[-1] if found else None


def run_load(
    base: str, password: str, totp: str, dns: tuple[int, int] | None, think: tuple[float, ...]
) -> tuple[dict[str, list[float]], dict, float]:
    """Every user's loop for SECONDS; between two pages each waits a random time within
    ``think`` (low, high), none when it is (0, 0), and the users start spread over one
    pause."""
    rng = random.Random(2026)
    users = [
        User(
            base,
            MEMBERS[n % len(MEMBERS)] if n < USERS * SIGNED_IN_SHARE else None,
            password,
            totp,
        )
        for n in range(USERS)
    ]
    member = next(u for u in users if u.signed_in)
    threads = thread_paths(member)
    survey = open_survey(member)
    print(f"{len(users)} users signed in or not; {len(threads)} archive threads to read")

    def survey_save(user: User, r: random.Random) -> int:
        data = {"action": "draft", "q12": f"load test {r.randrange(1000)}"}
        return user.post(f"/surveys/{survey}/answer", data)

    def dns_edit(user: User, r: random.Random) -> int:
        assert dns is not None
        service_id, record_id = dns
        data = {"ttl": str(r.choice([300, 600, 3600])), "values": f"192.0.2.{r.randrange(1, 250)}"}
        return user.post(f"/services/{service_id}/records/{record_id}", data)

    paths = {
        "home": lambda r: "/",
        "goals": lambda r: "/goals",
        "archives": lambda r: "/archives/",
        "list": lambda r: "/archives/infra/",
        "thread": lambda r: r.choice(threads),
        "search": lambda r: "/archives/search?q=" + r.choice(SEARCHES).replace(" ", "+"),
        "dashboard": lambda r: "/dashboard",
    }
    writes = {"survey save": survey_save, "dns edit": dns_edit}
    skipped = {"survey save"} if survey is None else set()
    if dns is None:
        skipped.add("dns edit")
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    lock = threading.Lock()
    barrier = threading.Barrier(USERS + 1)
    start: list[float] = []

    def loop(user: User, seed: int) -> None:
        r = random.Random(seed)
        mix = [(page, weight) for page, weight, who in MIX if user.may(who) and page not in skipped]
        pages, weights = zip(*mix, strict=True)
        barrier.wait()
        deadline = start[0] + SECONDS
        # People arrive one by one, not all in the same millisecond: each user's first page
        # comes within the first pause (locust's spawn rate does the same).
        time.sleep(r.uniform(0, think[-1]))
        for _ in range(MAX_REQUESTS_PER_USER):
            if time.monotonic() >= deadline:
                break
            page = r.choices(pages, weights)[0]
            began = time.perf_counter()
            try:
                write = writes.get(page)
                status = write(user, r) if write else user.get(paths[page](r))
                outcome = None if status < 400 else str(status)
            except requests.RequestException as error:
                outcome = type(error).__name__
            elapsed = time.perf_counter() - began
            with lock:
                latencies[page].append(elapsed)
                if outcome:
                    errors[page][outcome] += 1
            pause = r.uniform(think[0], think[-1])
            if pause:
                time.sleep(max(0.0, min(pause, deadline - time.monotonic())))

    workers = [
        threading.Thread(target=loop, args=(u, rng.randrange(1 << 30)), daemon=True) for u in users
    ]
    for worker in workers:
        worker.start()
    start.append(time.monotonic())
    barrier.wait()
    for worker in workers:
        worker.join(timeout=SECONDS + TIMEOUT + 10)
    return latencies, errors, time.monotonic() - start[0]


def percentile(values: list[float], p: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def report(latencies: dict[str, list[float]], errors: dict, seconds: float, think: str) -> None:
    print(
        f"\nLoad: {USERS} users for {SECONDS:.0f} s, {think}, gunicorn {WORKERS} workers "
        f"x {THREADS} threads, PostgreSQL, demo data ({seconds:.1f} s measured)\n"
    )
    header = f"| {'page':<12} | {'requests':>8} | {'errors':>6} | {'p50 ms':>7} | "
    header += f"{'p95 ms':>7} | {'p99 ms':>7} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    rows = [(page, latencies.get(page, [])) for page, _, _ in MIX]
    rows.append(("all", [v for values in latencies.values() for v in values]))
    for page, values in rows:
        failed = (
            sum(sum(e.values()) for e in errors.values())
            if page == "all"
            else sum(errors.get(page, {}).values())
        )
        print(
            f"| {page:<12} | {len(values):>8} | {failed:>6} | "
            f"{percentile(values, 50) * 1000:>7.1f} | {percentile(values, 95) * 1000:>7.1f} | "
            f"{percentile(values, 99) * 1000:>7.1f} |"
        )
    total = sum(len(v) for v in latencies.values())
    print(f"\n{total / seconds:,.0f} requests/s")
    for page, kinds in errors.items():
        print(f"errors on {page}: {dict(kinds)}")


def main() -> int:
    # Stopped from outside (timeout, Ctrl-C): still stop gunicorn and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    base_url = os.environ.get("INFRAWG_TEST_DATABASE_URL") or PG_DEFAULT
    if not base_url.startswith("postgresql"):
        base_url = PG_DEFAULT
    with tempfile.TemporaryDirectory() as tmp_dir, fresh_database(base_url, Path(tmp_dir)) as url:
        tmp = Path(tmp_dir)
        env = {
            **os.environ,
            "FLASK_APP": "wsgi",
            "INFRAWG_DATABASE_URL": url,
            "INFRAWG_SECRET_KEY": secrets.token_urlsafe(32),
            "INFRAWG_MAIL_BACKEND": "outbox",
            "INFRAWG_ARCHIVE_DIR": str(tmp / "archive"),
            "INFRAWG_EMBEDDED_WORKER": "0",
            # Every user signs in from 127.0.0.1 within a second: the test, not an attack.
            "INFRAWG_RATELIMIT_SIGNIN": "10000 per minute",
        }
        env.pop("INFRAWG_REDIS_URL", None)
        password, totp = prepare(env, tmp)
        dns = dns_setup(env)
        port = free_port()
        server = start_gunicorn(env, port, tmp / "gunicorn.log")
        runs = [
            (THINK, f"each reading a page {THINK[0]:g}-{THINK[-1]:g} s (target: p99 <= 500 ms)"),
            ((0.0, 0.0), "no pause between pages (stress: the throughput's ceiling)"),
        ]
        try:
            for think, label in runs:
                latencies, errors, seconds = run_load(
                    f"http://127.0.0.1:{port}", password, totp, dns, think
                )
                report(latencies, errors, seconds, label)
        finally:
            stop(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
