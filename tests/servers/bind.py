"""Start a real BIND 9 (`named -g`) on 127.0.0.1 for tests and benchmarks.

The server gets a fresh directory, a TSIG key made by `tsig-keygen`, and the zones the caller
asks for: dynamic zones (RFC 2136 updates and AXFR allowed for that key only), optionally
signed by BIND's own `dnssec-policy`, and static zones with literal text (a parent zone holding
delegations, for instance). It listens on a free high port, never 53.

Debian 12's BIND 9.18 signs a zone under `dnssec-policy` either when the zone is dynamic
(`allow-update`) or with `inline-signing yes`; our dynamic zones are the first case, so no
inline-signing is needed, and static zones that want DNSSEC get `inline-signing yes`.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

from tests.servers.ports import free_port
from tests.servers.process import ServerProcess

NAMED = "/usr/sbin/named"
TSIG_KEY_NAME = "infrawg-test"


@dataclass(frozen=True)
class ZoneConf:
    """A zone the server should serve.

    `text` is the zone file body for a static zone; a dynamic zone gets a minimal zone with
    SOA, one NS (`ns1.<zone>`) and its glue A 127.0.0.1.
    """

    name: str
    dynamic: bool = True
    dnssec: bool = False
    text: str | None = None


@dataclass
class BindServer(ServerProcess):
    """A running `named` process; use as a context manager or call start()/stop()."""

    zones: list[ZoneConf]
    host: str = "127.0.0.1"
    port: int = 0
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="infrawg-bind-")))
    tsig_key_name: str = TSIG_KEY_NAME
    tsig_secret: str = ""
    tsig_algorithm: str = "hmac-sha256"
    # Recursion for the loopback client only: BIND then follows a CNAME into another zone it
    # serves and answers CNAME and target together, as a recursive resolver would (an ACME
    # CA validating a `_acme-challenge` delegated by CNAME). Without it, an authoritative-only
    # BIND answers the CNAME alone.
    recursion: bool = False
    _process: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> BindServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "keys").mkdir(exist_ok=True)
        if not self.tsig_secret:
            self.tsig_secret = _tsig_keygen(self.tsig_key_name, self.tsig_algorithm)
        if not self.port:
            self.port = free_port(self.host)
        for zone in self.zones:
            (self.directory / _zone_file(zone.name)).write_text(self._zone_text(zone))
        conf = self.directory / "named.conf"
        conf.write_text(self._named_conf())
        check = subprocess.run(
            ["/usr/bin/named-checkconf", str(conf)], capture_output=True, text=True, check=False
        )
        if check.returncode != 0:
            raise RuntimeError(f"named-checkconf refused the config:\n{check.stdout}{check.stderr}")
        log = (self.directory / "named.log").open("wb")
        # -g: foreground, log to stderr; -4: loopback IPv4 only; -n 1 keeps it light in CI.
        self._process = subprocess.Popen(
            [NAMED, "-g", "-4", "-n", "1", "-c", str(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    # -- what clients need -------------------------------------------------------------------

    @property
    def key_file_text(self) -> str:
        """The key in BIND's own syntax, as `tsig-keygen` prints it."""
        return (
            f'key "{self.tsig_key_name}" {{\n\talgorithm {self.tsig_algorithm};\n'
            f'\tsecret "{self.tsig_secret}";\n}};\n'
        )

    def log(self) -> str:
        path = self.directory / "named.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def query(self, qname: str, rdtype: str, *, dnssec: bool = False) -> dns.message.Message:
        q = dns.message.make_query(qname, rdtype, want_dnssec=dnssec)
        return dns.query.tcp(q, self.host, port=self.port, timeout=5)

    # -- internals ---------------------------------------------------------------------------

    def _zone_text(self, zone: ZoneConf) -> str:
        if zone.text is not None:
            return zone.text
        origin = zone.name.rstrip(".") + "."
        return (
            f"$ORIGIN {origin}\n$TTL 300\n"
            f"@ IN SOA ns1.{origin} hostmaster.{origin} 1 3600 600 86400 300\n"
            f"@ IN NS ns1.{origin}\n"
            f"ns1 IN A 127.0.0.1\n"
        )

    def _named_conf(self) -> str:
        d = self.directory
        recursion = (
            f"recursion yes; allow-recursion {{ {self.host}; }};"
            if self.recursion
            else "recursion no;"
        )
        parts = [
            f"""options {{
    directory "{d}";
    key-directory "{d / "keys"}";
    pid-file "{d / "named.pid"}";
    session-keyfile "{d / "session.key"}";
    managed-keys-directory "{d}";
    listen-on port {self.port} {{ {self.host}; }};
    listen-on-v6 {{ none; }};
    {recursion}
    notify no;
    dnssec-validation no;
    max-journal-size 10m;
}};
controls {{ }};
key "{self.tsig_key_name}" {{
    algorithm {self.tsig_algorithm};
    secret "{self.tsig_secret}";
}};
"""
        ]
        for zone in self.zones:
            lines = [
                f'zone "{zone.name.rstrip(".")}" {{',
                "    type primary;",
                f'    file "{_zone_file(zone.name)}";',
                f'    allow-transfer {{ key "{self.tsig_key_name}"; }};',
            ]
            if zone.dynamic:
                lines.append(f'    allow-update {{ key "{self.tsig_key_name}"; }};')
            if zone.dnssec:
                # BIND's built-in policy: one ECDSAP256SHA256 CSK, NSEC.
                lines.append("    dnssec-policy default;")
                if not zone.dynamic:
                    lines.append("    inline-signing yes;")
            lines.append("};")
            parts.append("\n".join(lines) + "\n")
        return "\n".join(parts)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = list(self.zones)
        while pending:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"named exited early:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"named not ready for {pending[0].name}:\n{self.log()}")
            zone = pending[0]
            if self._zone_ready(zone):
                pending.pop(0)
            else:
                time.sleep(0.1)

    def _zone_ready(self, zone: ZoneConf) -> bool:
        try:
            soa = self.query(zone.name, "SOA", dnssec=zone.dnssec)
        except (OSError, dns.exception.DNSException):
            return False
        if not soa.answer:
            return False
        if not zone.dnssec:
            return True
        # Signed means the SOA carries an RRSIG and the apex has a DNSKEY.
        if not any(r.rdtype == dns.rdatatype.RRSIG for r in soa.answer):
            return False
        try:
            keys = self.query(zone.name, "DNSKEY")
        except (OSError, dns.exception.DNSException):
            return False
        return bool(keys.answer)


def _zone_file(name: str) -> str:
    return name.rstrip(".") + ".db"


def _tsig_keygen(name: str, algorithm: str) -> str:
    out = subprocess.run(
        ["/usr/sbin/tsig-keygen", "-a", algorithm, name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r'secret "([^"]+)"', out)
    if match is None:
        raise RuntimeError(f"tsig-keygen printed no secret: {out!r}")
    return match.group(1)
