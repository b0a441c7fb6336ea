"""Start a real Mailman 3 core (Debian's `mailman3`) on loopback high ports for tests.

The server gets a fresh directory with its own `mailman.cfg`: a SQLite database and every
var/queue/log directory inside it, the REST API on a free port with its own admin password,
LMTP on another free port, and outgoing mail to the SMTP server the caller names (the tests'
aiosmtpd). Only the runners the tests need are started (REST, LMTP, in, pipeline, out,
virgin), which keeps the start quick on a small machine. `master` is run directly, not
`mailman start`, so the process is ours to stop.
"""

from __future__ import annotations

import secrets
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.servers.ports import free_port
from tests.servers.process import ServerProcess

MASTER = "/usr/lib/mailman3/bin/master"
BIN_DIR = "/usr/lib/mailman3/bin"
# Runners Mailman starts by default that the tests do not need.
IDLE_RUNNERS = ("archive", "bad", "bounces", "command", "nntp", "retry", "shunt", "digest", "task")


@dataclass
class MailmanServer(ServerProcess):
    """A running Mailman core; use as a context manager or call start()/stop()."""

    # master stops its runners on SIGTERM and may take a while about it.
    STOP_TIMEOUT = 30.0

    smtp_port: int
    smtp_host: str = "127.0.0.1"
    host: str = "127.0.0.1"
    rest_port: int = 0
    lmtp_port: int = 0
    admin_user: str = "infrawg-test"
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    directory: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="infrawg-mailman-"))
    )
    started_in: float = 0.0
    _process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.rest_port}"

    @property
    def api(self) -> str:
        return f"{self.url}/3.1"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.admin_user, self.admin_password)

    def start(self, timeout: float = 90.0) -> MailmanServer:
        self.rest_port = self.rest_port or free_port(self.host)
        self.lmtp_port = self.lmtp_port or free_port(self.host)
        config = self.directory / "mailman.cfg"
        config.write_text(self._config())
        began = time.monotonic()
        log = (self.directory / "master.log").open("wb")
        self._process = subprocess.Popen(
            [MASTER, "-C", str(config), "--force"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
            start_new_session=True,
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def log(self) -> str:
        parts = []
        for name in ("master.log", "logs/mailman.log"):
            path = self.directory / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-6000:])
        return "\n".join(parts)

    # -- set-up through the REST API ---------------------------------------------------------

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(
            method, f"{self.api}/{path}", auth=self.auth, timeout=30, **kwargs
        )
        response.raise_for_status()
        return response

    def create_list(self, address: str, **settings: object) -> str:
        """Create the domain (when new) and the list; apply `settings`; return the list id."""
        local, domain = address.split("@", 1)
        existing = requests.get(f"{self.api}/domains/{domain}", auth=self.auth, timeout=30)
        if existing.status_code == 404:
            self.call("POST", "domains", data={"mail_host": domain})
        self.call("POST", "lists", data={"fqdn_listname": address})
        list_id = f"{local}.{domain}"
        if settings:
            data = {k: _rest_value(v) for k, v in settings.items()}
            self.call("PATCH", f"lists/{list_id}/config", data=data)
        return list_id

    def roster(self, list_id: str) -> set[str]:
        entries = self.call("GET", f"lists/{list_id}/roster/member").json().get("entries", [])
        return {entry["email"] for entry in entries}

    # -- internals ---------------------------------------------------------------------------

    def _config(self) -> str:
        d = self.directory
        idle = "\n".join(f"[runner.{name}]\nstart: no\n" for name in IDLE_RUNNERS)
        return f"""[mailman]
layout: infrawg
site_owner: owner@example.org

[paths.infrawg]
var_dir: {d}/var
bin_dir: {BIN_DIR}
queue_dir: {d}/var/queue
list_data_dir: {d}/var/lists
log_dir: {d}/logs
lock_dir: {d}/var/locks
data_dir: {d}/var/data
cache_dir: {d}/var/cache
etc_dir: {d}
ext_dir: {d}/var/ext
messages_dir: {d}/var/messages
archive_dir: {d}/var/archives
template_dir: {d}/var/templates
pid_file: {d}/master.pid
lock_file: {d}/var/locks/master.lck

[database]
class: mailman.database.sqlite.SQLiteDatabase
url: sqlite:///{d}/var/data/mailman.db

[logging.root]
path: mailman.log

[webservice]
hostname: {self.host}
port: {self.rest_port}
admin_user: {self.admin_user}
admin_pass: {self.admin_password}
workers: 1

[mta]
incoming: mailman.mta.null.NullMTA
outgoing: mailman.mta.deliver.deliver
lmtp_host: {self.host}
lmtp_port: {self.lmtp_port}
smtp_host: {self.smtp_host}
smtp_port: {self.smtp_port}

[archiver.prototype]
enable: no

{idle}
"""

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"Mailman's master exited early:\n{self.log()}")
            try:
                response = requests.get(f"{self.api}/system/versions", auth=self.auth, timeout=2)
                if response.status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"Mailman's REST API did not answer:\n{self.log()}")
            time.sleep(0.2)


def _rest_value(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)
