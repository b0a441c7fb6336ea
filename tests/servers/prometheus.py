"""Debian's Prometheus, node exporter, blackbox exporter and Alertmanager on 127.0.0.1 for
tests, plus two tiny loopback servers the monitoring tests need: one that answers with an SSH
banner, and an HTTP receiver that keeps the webhook POSTs it gets (and answers 200 to
anything else, so it can also play a node exporter that came back).

Each server gets a fresh directory and a free high port, and is stopped when the fixture ends.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from tests.servers.ports import free_port
from tests.servers.process import ServerProcess

PROMETHEUS = "/usr/bin/prometheus"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
BLACKBOX_EXPORTER = "/usr/bin/prometheus-blackbox-exporter"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"

# The modules our rendered configuration names (`Job.module`), as Debian's blackbox.yml has
# them, with short timeouts so a dead target fails fast.
BLACKBOX_CONFIG = {
    "modules": {
        "ssh_banner": {
            "prober": "tcp",
            "timeout": "2s",
            "tcp": {
                "preferred_ip_protocol": "ip4",
                "query_response": [
                    {"expect": "^SSH-2.0-"},
                    {"send": "SSH-2.0-blackbox-ssh-check"},
                ],
            },
        },
        "http_2xx": {
            "prober": "http",
            "timeout": "2s",
            "http": {"preferred_ip_protocol": "ip4"},
        },
    }
}


def _mkdtemp(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"infrawg-{name}-"))


@dataclass
class _HttpDaemon(ServerProcess):
    """A Go daemon that serves HTTP on `port` and is ready when `READY_PATH` answers 200."""

    BINARY = ""
    READY_PATH = "/metrics"
    STOP_TIMEOUT = 5.0
    host: str = "127.0.0.1"
    port: int = 0
    directory: Path = field(default_factory=lambda: _mkdtemp("daemon"))
    _process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def arguments(self) -> list[str]:
        raise NotImplementedError

    def log(self) -> str:
        path = self.directory / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, timeout: float = 20.0) -> Any:
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        log = (self.directory / "server.log").open("wb")
        self._process = subprocess.Popen(
            [self.BINARY, *self.arguments()], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"{self.BINARY} exited early:\n{self.log()}")
            try:
                if requests.get(self.url + self.READY_PATH, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.BINARY} not ready in {timeout}s:\n{self.log()}")
            time.sleep(0.1)


@dataclass
class PrometheusServer(_HttpDaemon):
    """Prometheus reading `config_file` (the site's rendered one), lifecycle API on unless
    `lifecycle` is False (as a misconfigured production one might be)."""

    BINARY = PROMETHEUS
    READY_PATH = "/-/ready"
    config_file: Path = Path("/nonexistent")
    lifecycle: bool = True
    directory: Path = field(default_factory=lambda: _mkdtemp("prometheus"))

    def arguments(self) -> list[str]:
        arguments = [
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.directory / 'data'}",
            f"--web.listen-address={self.address}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ]
        return [*arguments, "--web.enable-lifecycle"] if self.lifecycle else arguments

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        response.raise_for_status()
        return list(response.json()["data"]["result"])


@dataclass
class NodeExporter(_HttpDaemon):
    """The node exporter with only a cheap collector or two (the tests need `up`)."""

    BINARY = NODE_EXPORTER
    directory: Path = field(default_factory=lambda: _mkdtemp("node-exporter"))

    def arguments(self) -> list[str]:
        return [
            f"--web.listen-address={self.address}",
            "--collector.disable-defaults",
            "--collector.loadavg",
            "--collector.time",
            "--log.level=warn",
        ]


@dataclass
class BlackboxExporter(_HttpDaemon):
    """The blackbox exporter with the `ssh_banner` and `http_2xx` modules; `ca_file` is the
    test CA that HTTPS probes trust (as a real one trusts the public CAs)."""

    BINARY = BLACKBOX_EXPORTER
    READY_PATH = "/-/healthy"
    ca_file: Path | None = None
    directory: Path = field(default_factory=lambda: _mkdtemp("blackbox"))

    def arguments(self) -> list[str]:
        config = self.directory / "blackbox.yml"
        modules = json.loads(json.dumps(BLACKBOX_CONFIG))
        if self.ca_file is not None:
            modules["modules"]["http_2xx"]["http"]["tls_config"] = {"ca_file": str(self.ca_file)}
        config.write_text(json.dumps(modules, indent=2))
        return [
            f"--config.file={config}",
            f"--web.listen-address={self.address}",
            "--log.level=warn",
        ]


@dataclass
class AlertmanagerServer(_HttpDaemon):
    """Alertmanager with the given configuration (a mapping), clustering off."""

    BINARY = ALERTMANAGER
    READY_PATH = "/-/ready"
    config: dict[str, Any] = field(default_factory=dict)
    directory: Path = field(default_factory=lambda: _mkdtemp("alertmanager"))

    def arguments(self) -> list[str]:
        config = self.directory / "alertmanager.yml"
        config.write_text(json.dumps(self.config, indent=2))
        return [
            f"--config.file={config}",
            f"--storage.path={self.directory / 'data'}",
            f"--web.listen-address={self.address}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]


# -- tiny loopback servers -----------------------------------------------------------------------


class SshBannerServer:
    """Accepts TCP connections on a loopback port and greets each with an SSH banner, as
    sshd does before any key exchange (all the blackbox ssh_banner module looks at)."""

    BANNER = b"SSH-2.0-OpenSSH_9.2p1 infrawg-test\r\n"

    def __init__(self) -> None:
        banner = self.BANNER

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.sendall(banner)
                self.request.settimeout(2)
                with contextlib.suppress(OSError):
                    self.request.recv(256)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> SshBannerServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class ReceivedPost:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """An HTTP server on a loopback port that keeps every POST and answers 200 to all (an
    empty 200 on GET /metrics is a successful scrape, so it can stand in for an exporter).
    With `ssl_context` it speaks HTTPS: a web server whose certificate a probe reads."""

    def __init__(self, port: int = 0, ssl_context: ssl.SSLContext | None = None) -> None:
        self.received: list[ReceivedPost] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                post = ReceivedPost(self.path, dict(self.headers.items()), self.rfile.read(length))
                with receiver.lock:
                    receiver.received.append(post)
                self._answer()

            def do_GET(self) -> None:
                self._answer()

            def _answer(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def posts(self) -> list[ReceivedPost]:
        with self.lock:
            return list(self.received)


class SilentServer:
    """Accepts connections (the kernel does, from the backlog) and never answers: a
    Prometheus that hangs, for proving a client gives up in time."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.port = self.socket.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.socket.close()
