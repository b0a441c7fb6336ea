"""A real monitoring chain on loopback, shared by the module: the node and blackbox
exporters, Prometheus reading the configuration the site renders, Alertmanager sending to a
tiny webhook receiver with the site's token. Intervals are 1 s so a test sees a change within
a few seconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import trustme

from infrawg.provisioning.providers.monitoring import (
    MonitoringConfig,
    MonitoringProvider,
    install_base,
    render_alertmanager_config,
)
from tests.servers.ports import free_port
from tests.servers.prometheus import (
    AlertmanagerServer,
    BlackboxExporter,
    NodeExporter,
    PrometheusServer,
    WebhookReceiver,
)

WEBHOOK_TOKEN = "monitoring-test-token"
T = TypeVar("T")


def fast_config(directory: Path, **settings: object) -> MonitoringConfig:
    """The site's configuration with test intervals: 1 s scrapes, rules and file_sd
    refreshes, and 2 s before a down target's alert fires."""
    defaults: dict[str, object] = {
        "scrape_interval": "1s",
        "evaluation_interval": "1s",
        "refresh_interval": "1s",
        "instance_down_for": "2s",
        "probe_failed_for": "2s",
        "certificate_expiry_for": "1s",
        "timeout": 5.0,
    }
    defaults.update(settings)
    return MonitoringConfig(directory=directory, **defaults)  # type: ignore[arg-type]


def eventually(probe: Callable[[], T | None], timeout: float = 15.0, what: str = "it") -> T:
    """Poll `probe` until it returns something truthy; fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def node_exporter() -> Iterator[NodeExporter]:
    with NodeExporter() as server:
        yield server


@pytest.fixture(scope="module")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def blackbox(
    test_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BlackboxExporter]:
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    test_ca.cert_pem.write_to_path(str(ca_file))
    with BlackboxExporter(ca_file=ca_file) as server:
        yield server


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def alertmanager(
    webhook: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AlertmanagerServer]:
    token_file = tmp_path_factory.mktemp("alertmanager-secret") / "webhook-token"
    token_file.write_text(WEBHOOK_TOKEN)
    token_file.chmod(0o600)
    config = render_alertmanager_config(
        f"{webhook.url}/alerts", token_file=token_file, group_wait="1s", repeat_interval="1h"
    )
    with AlertmanagerServer(config=config) as server:
        yield server


@pytest.fixture(scope="module")
def monitoring_config(
    tmp_path_factory: pytest.TempPathFactory,
    blackbox: BlackboxExporter,
    alertmanager: AlertmanagerServer,
) -> MonitoringConfig:
    port = free_port()
    return fast_config(
        tmp_path_factory.mktemp("monitoring"),
        prometheus_url=f"http://127.0.0.1:{port}",
        blackbox_address=blackbox.address,
        alertmanager_urls=(alertmanager.url,),
    )


@pytest.fixture(scope="module")
def prometheus(monitoring_config: MonitoringConfig) -> Iterator[PrometheusServer]:
    install_base(monitoring_config)
    port = int(monitoring_config.prometheus_url.rsplit(":", 1)[1])
    with PrometheusServer(config_file=monitoring_config.config_file, port=port) as server:
        yield server


@pytest.fixture
def provider(
    monitoring_config: MonitoringConfig, prometheus: PrometheusServer
) -> MonitoringProvider:
    return MonitoringProvider(monitoring_config)
