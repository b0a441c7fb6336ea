"""Start Let's Encrypt's test CA, Debian's `pebble`, on 127.0.0.1 for the ACME tests.

Pebble serves its ACME API over HTTPS with a certificate we make with `trustme` (the client
trusts that CA through a bundle file, never the system store), and a management API on a second
port where its freshly generated roots live (`/roots/0`). It resolves the DNS-01 challenges
through the DNS server it is given (`-dnsserver`, our BIND fixture), so validation is real:

- PEBBLE_VA_NOSLEEP=1     validate at once instead of sleeping up to 15 s;
- PEBBLE_WFE_NONCEREJECT=0  no deliberately rejected nonces (flaky tests otherwise);
- PEBBLE_AUTHZREUSE=0     every order gets fresh authorizations, so each test validates;
- PEBBLE_VA_ALWAYS_VALID is never set: a wrong TXT value must fail.

Both ports are free high loopback ports; pebble's HTTP-01/TLS-ALPN-01 ports are too (unused).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
import trustme
from cryptography import x509

from tests.servers.ports import free_port
from tests.servers.process import ServerProcess

PEBBLE = "/usr/bin/pebble"


@dataclass
class PebbleServer(ServerProcess):
    """A running `pebble`; `directory_url`, `ca_bundle` and `roots()` are what clients need."""

    dns_server: str  # "127.0.0.1:<port>"
    host: str = "127.0.0.1"
    port: int = 0
    management_port: int = 0
    directory: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="infrawg-pebble-"))
    )
    extra_env: dict[str, str] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> PebbleServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port(self.host)
        self.management_port = self.management_port or free_port(self.host)
        ca = trustme.CA()
        server_cert = ca.issue_cert(self.host, "localhost")
        cert_path = self.directory / "cert.pem"
        key_path = self.directory / "key.pem"
        server_cert.cert_chain_pems[0].write_to_path(str(cert_path))
        server_cert.private_key_pem.write_to_path(str(key_path))
        key_path.chmod(0o600)
        ca.cert_pem.write_to_path(str(self.ca_bundle))
        config = {
            "pebble": {
                "listenAddress": f"{self.host}:{self.port}",
                "managementListenAddress": f"{self.host}:{self.management_port}",
                "certificate": str(cert_path),
                "privateKey": str(key_path),
                "httpPort": free_port(self.host),
                "tlsPort": free_port(self.host),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
            }
        }
        config_path = self.directory / "pebble-config.json"
        config_path.write_text(json.dumps(config, indent=2))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": "0",
            "PEBBLE_AUTHZREUSE": "0",
            **self.extra_env,
        }
        assert "PEBBLE_VA_ALWAYS_VALID" not in env, "validation must stay real"
        log = (self.directory / "pebble.log").open("wb")
        self._process = subprocess.Popen(
            [
                PEBBLE,
                "-config",
                str(config_path),
                "-dnsserver",
                self.dns_server,
                "-strict=false",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.directory,
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    # -- what clients need -------------------------------------------------------------------

    @property
    def directory_url(self) -> str:
        return f"https://{self.host}:{self.port}/dir"

    @property
    def management_url(self) -> str:
        return f"https://{self.host}:{self.management_port}"

    @property
    def ca_bundle(self) -> Path:
        """The trustme CA that signed pebble's own HTTPS certificate (not the ACME roots)."""
        return self.directory / "tls-ca.pem"

    def roots(self) -> list[x509.Certificate]:
        """The root(s) pebble issues under; regenerated at every start, so fetched live."""
        response = requests.get(
            f"{self.management_url}/roots/0", verify=str(self.ca_bundle), timeout=5
        )
        response.raise_for_status()
        return x509.load_pem_x509_certificates(response.content)

    def cert_status(self, serial: int) -> dict[str, object]:
        """Pebble's view of a certificate ("Valid" or "Revoked", and the reason)."""
        response = requests.get(
            f"{self.management_url}/cert-status-by-serial/{serial:x}",
            verify=str(self.ca_bundle),
            timeout=5,
        )
        response.raise_for_status()
        status: dict[str, object] = response.json()
        return status

    def log(self) -> str:
        path = self.directory / "pebble.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- internals ---------------------------------------------------------------------------

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"pebble exited early:\n{self.log()}")
            try:
                response = requests.get(self.directory_url, verify=str(self.ca_bundle), timeout=2)
                if response.ok and "newOrder" in response.json():
                    return
            except (requests.RequestException, ValueError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"pebble did not answer at {self.directory_url}:\n{self.log()}")
            time.sleep(0.1)


@contextmanager
def running_pebble(
    dns_server: str, extra_env: dict[str, str] | None = None
) -> Iterator[PebbleServer]:
    """Start pebble against `dns_server` ("host:port") and stop it afterwards; `extra_env`
    sets more PEBBLE_* variables (PEBBLE_VA_ALWAYS_VALID is refused)."""
    server = PebbleServer(dns_server=dns_server, extra_env=dict(extra_env or {}))
    server.start()
    try:
        yield server
    finally:
        server.cleanup()
