"""R13: every server is monitored. The site writes Prometheus's targets and rules; a real
Prometheus scrapes a real node exporter and probes through a real blackbox exporter; a dead
target fires an alert that a real Alertmanager posts to the webhook, in the payload shape the
site parses. Nothing here is a mock of Prometheus."""

from __future__ import annotations

import json
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import trustme

from infrawg.errors import Invalid, NotAllowed
from infrawg.provisioning.base import ProviderError
from infrawg.provisioning.providers.monitoring import (
    AlertStatus,
    Health,
    MonitoringConfig,
    MonitoringProvider,
    MonitoringSpec,
    PrometheusStatus,
    PromtoolRefused,
    Target,
    TargetKind,
    bearer_token,
    install_base,
    parse_webhook,
    read_webhook,
    token_matches,
)
from infrawg.provisioning.providers.monitoring import prometheus as prometheus_api
from infrawg.provisioning.secrets import Secret
from tests.monitoring.conftest import WEBHOOK_TOKEN, eventually, fast_config
from tests.servers.ports import free_port
from tests.servers.prometheus import (
    NodeExporter,
    PrometheusServer,
    SilentServer,
    SshBannerServer,
    WebhookReceiver,
)


def _value(server: PrometheusServer, expr: str) -> float | None:
    result = server.query(expr)
    return float(result[0]["value"][1]) if result else None


def _apply(provider: MonitoringProvider, spec: MonitoringSpec) -> None:
    plan = provider.plan_for(spec)
    provider.apply(plan)


def test_r13_written_target_is_scraped_up(
    provider: MonitoringProvider, prometheus: PrometheusServer, node_exporter: NodeExporter
) -> None:
    spec = MonitoringSpec("org-up", (Target(TargetKind.NODE, node_exporter.address, "11"),))
    plan = provider.plan_for(spec)
    assert [c.path for c in plan.changes] == [f"node {node_exporter.address}"]
    result = provider.apply(plan)

    assert result.applied
    assert provider.read("org-up").state == spec
    assert provider.plan_for(spec).empty
    eventually(
        lambda: _value(prometheus, 'up{organisation="org-up",service="11",job="node"}') == 1,
        what="up == 1 for the written node target",
    )
    checks = provider.verify(spec)
    assert all(c.ok for c in checks), checks
    status = PrometheusStatus(prometheus.url).status("org-up", "11")
    assert status.health is Health.UP
    assert status.last_probe is not None
    assert datetime.now(UTC) - status.last_probe < timedelta(seconds=30)


def test_r13_dead_target_fires_the_alert(
    provider: MonitoringProvider, prometheus: PrometheusServer, webhook: WebhookReceiver
) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    spec = MonitoringSpec("org-dead", (Target(TargetKind.NODE, dead, "41"),))
    _apply(provider, spec)

    def firing() -> list[dict[str, Any]]:
        return [
            a
            for a in prometheus_api.alerts(prometheus.url)
            if a["labels"].get("alertname") == "InstanceDown"
            and a["labels"].get("organisation") == "org-dead"
            and a["state"] == "firing"
        ]

    alert = eventually(firing, what="InstanceDown firing")[0]
    assert alert["labels"]["service"] == "41"
    assert alert["labels"]["instance"] == dead
    assert PrometheusStatus(prometheus.url).status("org-dead", "41").health is Health.DOWN

    # Alertmanager posts it to the webhook with the token; the parser reads the real payload.
    def notification(status: AlertStatus) -> Any:
        for post in webhook.posts():
            parsed = parse_webhook(post.body)
            for event in parsed.alerts:
                if event.service == "41" and event.status is status:
                    return post, parsed, event
        return None

    post, parsed, event = eventually(
        lambda: notification(AlertStatus.FIRING), what="the firing webhook POST"
    )
    assert post.path == "/alerts"
    # What the endpoint will do with the real request: token, then payload.
    assert read_webhook(post.headers.get("Authorization"), post.body, WEBHOOK_TOKEN) == parsed
    with pytest.raises(NotAllowed):
        read_webhook(post.headers.get("Authorization"), post.body, "another token")
    assert parsed.status is AlertStatus.FIRING
    assert event.name == "InstanceDown"
    assert event.organisation == "org-dead"
    assert event.instance == dead
    assert event.ends_at is None or event.ends_at > event.starts_at
    assert event.summary == f"{dead} does not answer its node exporter"

    # The server comes back (anything answering 200 on /metrics is a good scrape): the alert
    # clears and Alertmanager sends the resolution for the same fingerprint.
    revived = WebhookReceiver(port=int(dead.rsplit(":", 1)[1])).start()
    try:
        _, _, resolved = eventually(
            lambda: notification(AlertStatus.RESOLVED), what="the resolved webhook POST"
        )
    finally:
        revived.stop()
    assert resolved.fingerprint == event.fingerprint
    assert resolved.incident_key == event.incident_key  # closes the incident it opened
    assert resolved.ends_at is not None and resolved.ends_at > resolved.starts_at
    provider.destroy("org-dead")
    assert not provider.read("org-dead").exists


def test_r13_blackbox_probes_an_ssh_port(
    provider: MonitoringProvider, prometheus: PrometheusServer
) -> None:
    sshd = SshBannerServer().start()
    closed = f"127.0.0.1:{free_port()}"
    try:
        spec = MonitoringSpec(
            "org-ssh",
            (Target(TargetKind.SSH, sshd.address, "21"), Target(TargetKind.SSH, closed, "22")),
        )
        _apply(provider, spec)
        eventually(
            lambda: _value(prometheus, 'probe_success{organisation="org-ssh",service="21"}') == 1,
            what="probe_success == 1 for the SSH banner",
        )
        eventually(
            lambda: _value(prometheus, 'probe_success{organisation="org-ssh",service="22"}') == 0,
            what="probe_success == 0 for the closed port",
        )
        status = PrometheusStatus(prometheus.url)
        assert status.status("org-ssh", "21").health is Health.UP
        assert status.status("org-ssh", "22").health is Health.DOWN
        checks = {c.name: c for c in provider.verify(spec)}
        assert checks[f"ssh {sshd.address}"].ok
    finally:
        provider.destroy("org-ssh")
        sshd.stop()


def test_r13_promtool_refuses_a_broken_rule_with_a_message(
    tmp_path: Any, monitoring_config: MonitoringConfig
) -> None:
    good = fast_config(tmp_path)
    install_base(good)
    rules_before = good.rules_file.read_text()

    broken = fast_config(tmp_path, instance_down_for="soon")
    with pytest.raises(PromtoolRefused) as refused:
        install_base(broken)
    message = str(refused.value)
    assert "promtool check rules refused" in message
    assert '"soon"' in message or "soon" in message
    # The old rules stay in place; no temporary file is left behind.
    assert good.rules_file.read_text() == rules_before
    assert [p.name for p in good.rules_file.parent.iterdir()] == [good.rules_file.name]

    # A file_sd file broken by hand is caught by the config check, naming the file.
    provider = MonitoringProvider(good)
    bad_file = good.targets_file("org-x", TargetKind.NODE.job)
    bad_file.write_text('[{"targets": ["127.0.0.1:9100"], "labels": {"not a label": "1"}}]')
    checks = {c.name: c for c in provider.verify(MonitoringSpec("org-x"))}
    assert not checks["promtool check config"].ok
    assert "not a valid label name" in checks["promtool check config"].detail


WEBHOOK_BODY = {
    "version": "4",
    "groupKey": '{}:{alertname="InstanceDown"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "infrawg",
    "groupLabels": {"alertname": "InstanceDown"},
    "commonLabels": {"alertname": "InstanceDown"},
    "commonAnnotations": {},
    "externalURL": "http://127.0.0.1:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "InstanceDown",
                "organisation": "7",
                "service": "42",
                "instance": "vm1.example.org:9100",
                "job": "node",
                "kind": "node",
            },
            "annotations": {"summary": "vm1.example.org:9100 does not answer"},
            "startsAt": "2026-12-02T06:30:01.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": "c5a2b1e8f9d01234",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "PrometheusSelf"},
            "annotations": {},
            "startsAt": "2026-12-02T06:00:00Z",
            "endsAt": "2026-12-02T06:10:00.5+01:00",
            "fingerprint": "00ff",
        },
    ],
}


def test_r13_webhook_payload_parsed_and_token_checked() -> None:
    parsed = parse_webhook(json.dumps(WEBHOOK_BODY).encode())
    assert parsed.status is AlertStatus.FIRING
    assert parsed.receiver == "infrawg"
    first, second = parsed.alerts
    assert first.firing and first.name == "InstanceDown"
    assert (first.organisation, first.service) == ("7", "42")
    assert first.starts_at == datetime(2026, 12, 2, 6, 30, 1, 123456, tzinfo=UTC)
    assert first.ends_at is None  # Go's zero time: not set
    assert first.fingerprint == "c5a2b1e8f9d01234"
    assert second.status is AlertStatus.RESOLVED
    assert second.service is None  # not about a tenant's service: the caller skips it
    assert second.ends_at == datetime(2026, 12, 2, 5, 10, 0, 500000, tzinfo=UTC)

    for body, words in [
        (b"not json", "not JSON"),
        (json.dumps({**WEBHOOK_BODY, "version": "3"}), "version"),
        (json.dumps({**WEBHOOK_BODY, "status": "burning"}), "status"),
        (json.dumps({**WEBHOOK_BODY, "alerts": [{"labels": {}}]}), "alertname"),
        (json.dumps([1, 2]), "object"),
    ]:
        with pytest.raises(Invalid, match=words):
            parse_webhook(body)

    assert bearer_token("Bearer s3cret") == "s3cret"
    assert bearer_token("Basic czNjcmV0") is None
    assert bearer_token(None) is None
    assert token_matches("s3cret", Secret("s3cret", "env:X"))
    assert not token_matches("s3cre", Secret("s3cret", "env:X"))
    assert not token_matches(None, "s3cret")
    assert not token_matches("", "")  # an unset token never opens the endpoint
    with pytest.raises(NotAllowed):
        read_webhook(None, json.dumps(WEBHOOK_BODY), "s3cret")
    with pytest.raises(NotAllowed):  # the token is checked before the body is read
        read_webhook("Bearer wrong", b"not json", "s3cret")
    assert read_webhook("Bearer s3cret", json.dumps(WEBHOOK_BODY), "s3cret") == parsed

    # The same alert firing again after it resolved opens a new incident.
    again = json.loads(json.dumps(WEBHOOK_BODY))
    again["alerts"][0]["startsAt"] = "2026-12-02T08:00:00Z"
    refired = parse_webhook(json.dumps(again)).alerts[0]
    assert refired.fingerprint == first.fingerprint
    assert refired.incident_key != first.incident_key


def test_r13_status_query_is_cached_and_never_blocks(
    tmp_path: Any, node_exporter: NodeExporter
) -> None:
    port = free_port()
    config = fast_config(tmp_path, prometheus_url=f"http://127.0.0.1:{port}")
    provider = MonitoringProvider(config)
    install_base(config)
    now = [0.0]
    status = PrometheusStatus(
        config.prometheus_url, timeout=0.5, ttl=30, failure_ttl=10, clock=lambda: now[0]
    )
    with PrometheusServer(config_file=config.config_file, port=port) as server:
        _apply(provider, MonitoringSpec("org-c", (Target("node", node_exporter.address, "5"),)))
        eventually(lambda: _value(server, 'up{organisation="org-c"}') == 1, what="the target up")
        assert status.status("org-c", "5").health is Health.UP

    # Prometheus is gone. Within the TTL the page gets the cached answer at once...
    started = time.monotonic()
    assert status.status("org-c", "5").health is Health.UP
    assert time.monotonic() - started < 0.05
    # ...after it, "unknown" quickly, with the reason, and that failure is cached in turn.
    now[0] += 31
    started = time.monotonic()
    gone = status.status("org-c", "5")
    assert gone.health is Health.UNKNOWN and "did not answer" in gone.problem
    assert time.monotonic() - started < 1.0
    assert status.status("org-c", "5") is gone

    # A Prometheus that accepts the connection and never answers costs one timeout, once.
    silent = SilentServer()
    try:
        hanging = PrometheusStatus(silent.url, timeout=0.5)
        started = time.monotonic()
        assert hanging.status("org-c", "5").health is Health.UNKNOWN
        assert time.monotonic() - started < 1.5
        started = time.monotonic()
        assert hanging.status("org-c", "5").health is Health.UNKNOWN
        assert time.monotonic() - started < 0.05
    finally:
        silent.stop()


def test_r13_a_page_does_not_wait_while_another_asks_prometheus() -> None:
    silent = SilentServer()
    now = [0.0]
    status = PrometheusStatus(silent.url, timeout=1.0, failure_ttl=10, clock=lambda: now[0])
    try:
        last = status.status("org-s", "1")  # costs one timeout, then cached
        now[0] += 11  # expired: the next caller asks again
        asking = threading.Thread(target=status.status, args=("org-s", "1"))
        asking.start()
        time.sleep(0.2)  # it is now waiting for the silent server
        started = time.monotonic()
        assert status.status("org-s", "1") is last  # the last answer, at once
        assert time.monotonic() - started < 0.05
        asking.join()
    finally:
        silent.stop()


def test_r13_https_probe_reads_the_certificate_and_an_expiring_one_alerts(
    provider: MonitoringProvider, prometheus: PrometheusServer, test_ca: trustme.CA
) -> None:
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    leaf = test_ca.issue_cert("127.0.0.1", not_after=expires)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    site = WebhookReceiver(ssl_context=context).start()
    try:
        url = f"{site.url}/"
        spec = MonitoringSpec("org-tls", (Target(TargetKind.HTTPS, url, "31"),))
        _apply(provider, spec)
        expiry = eventually(
            lambda: _value(prometheus, 'probe_ssl_earliest_cert_expiry{organisation="org-tls"}'),
            what="the certificate's expiry probed",
        )
        assert abs(expiry - expires.timestamp()) < 2
        assert _value(prometheus, 'probe_success{organisation="org-tls"}') == 1

        def expiring() -> list[dict[str, Any]]:
            return [
                a
                for a in prometheus_api.alerts(prometheus.url)
                if a["labels"].get("alertname") == "CertificateExpiresSoon"
                and a["labels"].get("service") == "31"
                and a["state"] == "firing"
            ]

        alert = eventually(expiring, what="CertificateExpiresSoon firing")[0]
        assert alert["labels"]["instance"] == url
        assert alert["labels"]["organisation"] == "org-tls"
        assert all(c.ok for c in provider.verify(spec))
    finally:
        provider.destroy("org-tls")
        site.stop()


def test_r13_changed_rules_reach_prometheus_by_reload(
    tmp_path: Any, node_exporter: NodeExporter
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = MonitoringProvider(fast_config(tmp_path, prometheus_url=url))
    install_base(first.config)

    def down_for() -> float:
        groups = requests.get(f"{url}/api/v1/rules", timeout=5).json()["data"]["groups"]
        rules = {r["name"]: r for g in groups for r in g["rules"]}
        return float(rules["InstanceDown"]["duration"])

    with PrometheusServer(config_file=first.config.config_file, port=port):
        assert down_for() == 2
        assert first.install() == []  # nothing changed, no reload
        slower = MonitoringProvider(
            fast_config(tmp_path, prometheus_url=url, instance_down_for="7s")
        )
        log = slower.install()
        assert log[-1] == f"reloaded Prometheus at {url}"
        assert down_for() == 7


def test_r13_a_prometheus_that_refuses_reloads_says_how_to_fix_it(tmp_path: Any) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    provider = MonitoringProvider(fast_config(tmp_path, prometheus_url=url))
    install_base(provider.config)
    with (
        PrometheusServer(config_file=provider.config.config_file, port=port, lifecycle=False),
        pytest.raises(ProviderError, match=r"start it with --web\.enable-lifecycle"),
    ):
        provider.reload()
    with pytest.raises(ProviderError, match="could not be reloaded"):
        provider.reload()  # and one that is not there at all


@pytest.fixture
def app_config(smtp_config) -> dict:
    return {**smtp_config, "ALERT_WEBHOOK_TOKEN": WEBHOOK_TOKEN}


def test_r13_a_dead_server_is_an_incident_mailed_to_its_tenant_members(
    app, people, provider: MonitoringProvider, webhook: WebhookReceiver, mailbox
) -> None:
    """The whole chain: a target the site writes for a service dies; the real Prometheus fires,
    the real Alertmanager posts; that POST, as it came, to the site's webhook opens the
    incident notice, and its mail reaches the tenant members over SMTP (aiosmtpd)."""
    from infrawg.jobs import run_due_jobs
    from tests.conftest import make_organisation
    from tests.status.conftest import make_service

    ann = people.make("Ann Alpha", email="ann@example.org")
    bea = people.make("Bea Beta", email="bea@example.org")
    alpha = make_organisation("Alpha WG", ann)
    make_organisation("Beta WG", bea)
    service = make_service(alpha, "web7.alpha.example.org", ann)
    dead = f"127.0.0.1:{free_port()}"
    _apply(
        provider,
        MonitoringSpec(str(alpha.id), (Target(TargetKind.NODE, dead, str(service.id)),)),
    )

    def firing_post() -> Any:
        for post in webhook.posts():
            events = parse_webhook(post.body).alerts
            if any(e.service == str(service.id) and e.firing for e in events):
                return post
        return None

    post = eventually(firing_post, timeout=45, what="Alertmanager's POST about the service")
    response = app.test_client().post(
        "/status/alerts",
        data=post.body,
        headers={
            "Authorization": post.headers["Authorization"],
            "Content-Type": "application/json",
        },
        csrf=False,
    )
    assert response.status_code == 200, response.text
    assert len(response.json["opened"]) == 1
    run_due_jobs()  # the mail's delivery
    mail = mailbox.wait_for(ann.email)
    assert mail.subject == "[Infra-WG] Incident: InstanceDown: web7.alpha.example.org"
    assert mailbox.to(bea.email) == []
