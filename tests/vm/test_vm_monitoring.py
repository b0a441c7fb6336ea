"""R13: every server is monitored. A VM provisioned through the site (libvirt's test driver)
gets its node-exporter target and SSH probe written for a real Prometheus, which lists them;
decommissioning removes them. The server page shows `up` and the last probe from that
Prometheus, says "monitoring unavailable" quickly when it is down or hangs, and is nobody
else's to see. Nothing here is a mock of Prometheus or libvirt."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from infrawg.extensions import db
from infrawg.jobs import enqueue, run_due_jobs
from infrawg.jobs.models import Job, JobLogLine, JobState
from infrawg.provisioning.kinds.vm import monitoring
from infrawg.provisioning.models import Service, ServiceState
from infrawg.provisioning.providers.monitoring import install_base
from infrawg.timeutil import utcnow
from tests.conftest import html, make_organisation
from tests.monitoring.conftest import eventually, fast_config
from tests.servers.ports import free_port
from tests.servers.prometheus import (
    BlackboxExporter,
    NodeExporter,
    PrometheusServer,
    SilentServer,
    SshBannerServer,
)
from tests.vm.conftest import decommission


@pytest.fixture(scope="module")
def blackbox() -> Iterator[BlackboxExporter]:
    with BlackboxExporter() as server:
        yield server


@pytest.fixture
def monitoring_settings(tmp_path: Path, blackbox: BlackboxExporter) -> dict[str, Any]:
    """The `monitoring` instance of INFRAWG_PROVIDERS, as a site gives it (1 s intervals)."""
    config = fast_config(tmp_path / "monitoring")
    return {
        "directory": str(config.directory),
        "prometheus_url": f"http://127.0.0.1:{free_port()}",
        "blackbox_address": blackbox.address,
        "scrape_interval": config.scrape_interval,
        "evaluation_interval": config.evaluation_interval,
        "refresh_interval": config.refresh_interval,
    }


@pytest.fixture
def prometheus(monitoring_settings: dict[str, Any]) -> Iterator[PrometheusServer]:
    """Prometheus reading the configuration the site renders for that instance."""
    config = fast_config(
        Path(monitoring_settings["directory"]),
        blackbox_address=monitoring_settings["blackbox_address"],
    )
    install_base(config)
    port = int(monitoring_settings["prometheus_url"].rsplit(":", 1)[1])
    with PrometheusServer(config_file=config.config_file, port=port) as server:
        yield server


@pytest.fixture
def vm_monitoring() -> dict[str, Any]:
    return {}  # the defaults: the VM's FQDN, ports 9100 and 22


@pytest.fixture
def app_config(libvirt_registered, vm_settings, monitoring_settings, vm_monitoring) -> dict:
    return {
        "PROVIDERS": {"libvirt": vm_settings, "monitoring": monitoring_settings},
        "VM_DOMAIN": "vms.infrawg.test",
        "VM_MONITORING": vm_monitoring,
    }


def _provision(
    app, people, tenant_member, chair, organisation, vm_type, tenant_keys, hostname="web1"
) -> Service:
    tenant = people.sign_in(app.test_client(), tenant_member)
    data = {
        "organisation": organisation.id,
        "service_type": vm_type.id,
        "hostname": hostname,
        "size": "small",
        "image": "debian-12",
        "ssh_keys": "\n".join(tenant_keys),
        "purpose": "The working group's documentation site",
    }
    assert tenant.post("/services/request", data=data).status_code == 303
    service = db.session.scalar(select(Service).where(Service.name == hostname))
    chair_client = people.sign_in(app.test_client(), chair)
    assert chair_client.post(f"/services/{service.id}/decide/approve").status_code == 303
    run_due_jobs()
    db.session.refresh(service)
    assert service.state == ServiceState.ACTIVE, service.state_reason
    return service


def _listed(prometheus: PrometheusServer) -> set[tuple[str, str, str, str]]:
    """(job, instance, organisation, service) of every target Prometheus scrapes now."""
    body = requests.get(f"{prometheus.url}/api/v1/targets", timeout=5).json()
    return {
        (
            t["labels"].get("job", ""),
            t["labels"].get("instance", ""),
            t["labels"].get("organisation", ""),
            t["labels"].get("service", ""),
        )
        for t in body["data"]["activeTargets"]
    }


def _log(job: Job) -> str:
    lines = db.session.scalars(
        select(JobLogLine.line).where(JobLogLine.job_id == job.id).order_by(JobLogLine.id)
    )
    return "\n".join(lines)


def _monitoring_jobs() -> list[Job]:
    return list(
        db.session.scalars(select(Job).where(Job.kind == monitoring.MONITOR_JOB).order_by(Job.id))
    )


def test_r13_provisioned_vm_is_monitored(
    app,
    people,
    tenant_member,
    chair,
    organisation,
    vm_type,
    tenant_keys,
    prometheus,
    monitoring_settings,
):
    service = _provision(app, people, tenant_member, chair, organisation, vm_type, tenant_keys)
    org, sid = str(organisation.id), str(service.id)

    # The provisioning's state change enqueued the monitoring job, which ran and wrote the
    # organisation's file_sd files with the server's address and labels.
    (written,) = _monitoring_jobs()
    assert written.state == JobState.SUCCEEDED and written.args == {
        "organisation_id": organisation.id
    }
    targets = Path(monitoring_settings["directory"], "targets")
    node = json.loads((targets / "node" / f"{org}.json").read_text())
    ssh = json.loads((targets / "blackbox_ssh" / f"{org}.json").read_text())
    assert node == [
        {
            "targets": ["web1.vms.infrawg.test:9100"],
            "labels": {"organisation": org, "service": sid, "kind": "node"},
        }
    ]
    assert ssh[0]["targets"] == ["web1.vms.infrawg.test:22"]
    assert ssh[0]["labels"]["service"] == sid

    # Prometheus picked them up (file_sd) and scrapes both.
    want = {
        ("node", "web1.vms.infrawg.test:9100", org, sid),
        ("blackbox_ssh", "web1.vms.infrawg.test:22", org, sid),
    }
    eventually(lambda: want <= _listed(prometheus), what="Prometheus lists the VM's targets")

    # Decommissioned: the targets are removed, and Prometheus stops scraping them.
    decommission(app, people, tenant_member, service)
    assert [j.state for j in _monitoring_jobs()] == [JobState.SUCCEEDED, JobState.SUCCEEDED]
    assert not (targets / "node" / f"{org}.json").exists()
    assert not (targets / "blackbox_ssh" / f"{org}.json").exists()
    eventually(
        lambda: not {t for t in _listed(prometheus) if t[2] == org},
        what="Prometheus drops the decommissioned VM's targets",
    )


def test_r13_suspension_unwatches_and_resumption_rewatches(
    app, people, tenant_member, chair, organisation, vm_type, tenant_keys, monitoring_settings
):
    from infrawg.provisioning import lifecycle

    service = _provision(app, people, tenant_member, chair, organisation, vm_type, tenant_keys)
    node_file = Path(monitoring_settings["directory"], "targets", "node", f"{organisation.id}.json")
    assert node_file.exists()
    # A suspended server is powered off (R7): watching it would only raise false alarms.
    lifecycle.suspend(chair, service, "charter lapsed")
    db.session.commit()
    run_due_jobs()
    assert not node_file.exists()
    lifecycle.resume(chair, service, "recognised again")
    db.session.commit()
    run_due_jobs()
    db.session.refresh(service)
    assert service.state == ServiceState.ACTIVE
    assert "web1.vms.infrawg.test:9100" in node_file.read_text()


@pytest.fixture
def blocked_settings(monitoring_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    # The monitoring directory cannot be made: a file is in its way (a disk or mount problem).
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    return monitoring_settings | {"directory": str(blocked / "monitoring"), "prometheus_url": ""}


def test_r13_monitoring_down_is_retried_not_lost(
    app,
    people,
    tenant_member,
    chair,
    organisation,
    vm_type,
    tenant_keys,
    blocked_settings,
    tmp_path,
):
    app.config["PROVIDERS"] = app.config["PROVIDERS"] | {"monitoring": blocked_settings}
    service = _provision(app, people, tenant_member, chair, organisation, vm_type, tenant_keys)
    # The server is active all the same; the monitoring job failed and waits for its retry.
    (pending,) = _monitoring_jobs()
    assert pending.state == JobState.FAILED and pending.attempts == 1
    assert pending.next_run_at > utcnow()
    assert "blocked" in (pending.last_error or "")

    (tmp_path / "blocked").unlink()  # the operators fix the disk
    pending.next_run_at = utcnow()
    db.session.commit()
    run_due_jobs()
    db.session.refresh(pending)
    assert pending.state == JobState.SUCCEEDED
    node_file = tmp_path / "blocked" / "monitoring" / "targets" / "node" / f"{organisation.id}.json"
    assert f'"service": "{service.id}"' in node_file.read_text()


# -- the server page -----------------------------------------------------------------------


@pytest.fixture
def node_exporter() -> Iterator[NodeExporter]:
    with NodeExporter() as server:
        yield server


@pytest.fixture
def sshd() -> Iterator[SshBannerServer]:
    server = SshBannerServer().start()
    yield server
    server.stop()


def _forget() -> None:
    for client in monitoring_clients():
        client.forget()


def monitoring_clients() -> list[Any]:
    from flask import current_app

    return list(current_app.extensions.get(monitoring.STATUS_KEY, {}).values())


def _panel(client, service: Service):
    response = client.get(f"/services/{service.id}")
    assert response.status_code == 200
    return html(response).select_one("#monitoring")


def _state_is(client, service: Service, text: str):
    def probe():
        _forget()  # the page's answers are cached for 30 s; the test asks afresh
        panel = _panel(client, service)
        state = panel.select_one("#monitoring-state").text.strip()
        healths = [td.text for td in panel.select("#monitoring-targets .monitoring-health")]
        return panel if state == text and len(healths) == 2 else None

    return eventually(probe, what=f"the page shows {text}")


class TestServerPage:
    @pytest.fixture
    def vm_monitoring(self, node_exporter: NodeExporter, sshd: SshBannerServer) -> dict[str, Any]:
        # The "VM" Prometheus reaches is a real node exporter and an SSH banner on loopback.
        return {"address": "127.0.0.1", "node_port": node_exporter.port, "ssh_port": sshd.port}

    def test_r13_page_shows_up_and_down_from_prometheus_and_only_to_its_people(
        self,
        app,
        people,
        tenant_member,
        chair,
        staff,
        organisation,
        vm_type,
        tenant_keys,
        prometheus,
        node_exporter,
    ):
        service = _provision(app, people, tenant_member, chair, organisation, vm_type, tenant_keys)
        tenant = people.sign_in(app.test_client(), tenant_member)

        panel = _state_is(tenant, service, "Up")
        rows = {tr["data-job"]: tr for tr in panel.select("#monitoring-targets tr[data-job]")}
        assert set(rows) == {"node", "blackbox_ssh"}
        assert f"127.0.0.1:{node_exporter.port}" in rows["node"].text
        assert all(r.select_one(".monitoring-health").text == "Up" for r in rows.values())
        assert "UTC" in panel.select_one("#monitoring-last-probe").text

        # The node exporter dies: Prometheus's `up` is 0, and the page says so.
        node_exporter.stop()
        panel = _state_is(tenant, service, "Down")
        health = {
            tr["data-job"]: tr.select_one(".monitoring-health").text
            for tr in panel.select("#monitoring-targets tr[data-job]")
        }
        assert health == {"node": "Down", "blackbox_ssh": "Up"}

        # A member of another organisation sees neither the page nor its panel.
        outsider = people.make("Olga Outsider")
        make_organisation("Other WG", outsider)
        other = people.sign_in(app.test_client(), outsider)
        response = other.get(f"/services/{service.id}")
        assert response.status_code in (403, 404)
        assert html(response).select_one("#monitoring") is None
        assert "127.0.0.1:" not in response.get_data(as_text=True)

        # Staff see it too.
        assert _panel(people.sign_in(app.test_client(), staff), service) is not None

        # Prometheus stops: the page still renders, at once, and says so.
        prometheus.stop()
        _forget()
        started = time.monotonic()
        panel = _panel(tenant, service)
        took = time.monotonic() - started
        assert "Monitoring unavailable" in panel.select_one("#monitoring-state").text
        assert took < 2.0, took
        assert panel.select_one("#monitoring-targets") is None
        assert panel.select_one("#monitoring-problem") is None  # Prometheus's error is staff's
        staff_panel = _panel(people.sign_in(app.test_client(), staff), service)
        assert "did not answer" in staff_panel.select_one("#monitoring-problem").text

    def test_each_page_shows_its_own_servers_series_only(
        self, app, people, tenant_member, chair, organisation, vm_type, tenant_keys, prometheus
    ):
        mine = _provision(app, people, tenant_member, chair, organisation, vm_type, tenant_keys)
        neighbour = people.make("Nora Neighbour")
        theirs_org = make_organisation("Neighbour WG", neighbour)
        theirs = _provision(
            app, people, neighbour, chair, theirs_org, vm_type, tenant_keys, hostname="db1"
        )
        # Both servers are "at" the same loopback exporters: only the labels tell them apart,
        # and each page asks Prometheus for its own organisation's and service's series.
        for person, service in ((tenant_member, mine), (neighbour, theirs)):
            client = people.sign_in(app.test_client(), person)
            panel = _state_is(client, service, "Up")
            assert len(panel.select("#monitoring-targets tr[data-job]")) == 2
        status = monitoring_clients()[0].status(theirs_org.id, mine.id)  # a mismatched pair
        assert status.targets == ()

    def test_a_hanging_prometheus_costs_a_page_half_a_second_once(
        self,
        app,
        people,
        tenant_member,
        chair,
        organisation,
        vm_type,
        tenant_keys,
        monitoring_settings,
    ):
        service = _provision(app, people, tenant_member, chair, organisation, vm_type, tenant_keys)
        silent = SilentServer()
        try:
            providers = app.config["PROVIDERS"]
            app.config["PROVIDERS"] = providers | {
                "monitoring": monitoring_settings | {"prometheus_url": silent.url}
            }
            tenant = people.sign_in(app.test_client(), tenant_member)
            timings = []
            for _ in range(2):
                started = time.monotonic()
                panel = _panel(tenant, service)
                timings.append(time.monotonic() - started)
                assert "Monitoring unavailable" in panel.select_one("#monitoring-state").text
            # The first waits for the 0.5 s timeout; the second is the cached failure.
            assert 0.4 < timings[0] < 2.0, timings
            assert timings[1] < 0.4, timings
        finally:
            silent.stop()


def test_without_a_monitoring_provider_nothing_is_written_and_the_page_says_so(
    app, people, tenant_member, chair, organisation, vm_type, tenant_keys, vm_settings, tmp_path
):
    app.config["PROVIDERS"] = {"libvirt": vm_settings}
    service = _provision(app, people, tenant_member, chair, organisation, vm_type, tenant_keys)
    (ran,) = _monitoring_jobs()
    assert ran.state == JobState.SUCCEEDED
    assert "no monitoring provider is configured" in _log(ran)
    tenant = people.sign_in(app.test_client(), tenant_member)
    assert "not configured" in _panel(tenant, service).select_one("#monitoring-state").text

    # The site configures its monitoring later: the daily check writes the existing server.
    directory = tmp_path / "late-monitoring"
    app.config["PROVIDERS"] = {
        "libvirt": vm_settings,
        "monitoring": {"directory": str(directory), "prometheus_url": ""},
    }
    enqueue(monitoring.CHECK_JOB)
    db.session.commit()
    run_due_jobs()
    check = db.session.scalar(select(Job).where(Job.kind == monitoring.CHECK_JOB))
    assert check.state == JobState.SUCCEEDED, check.last_error
    node_file = directory / "targets" / "node" / f"{organisation.id}.json"
    assert "web1.vms.infrawg.test:9100" in node_file.read_text()
    # No Prometheus to ask: the page says so instead of guessing.
    assert "Monitoring unavailable" in _panel(tenant, service).select_one("#monitoring-state").text


def test_r13_an_active_certificates_hosts_are_probed_beside_the_servers(
    app, people, tenant_member, chair, organisation, vm_type, tenant_keys, prometheus
):
    """A certificate that becomes active has an HTTPS probe of each of its hosts written
    into its organisation's targets (the wildcard cannot be probed), beside the servers'."""
    from infrawg.provisioning.models import ServiceType

    server = _provision(app, people, tenant_member, chair, organisation, vm_type, tenant_keys)
    tls_type = ServiceType(name="Certificates", kind="tls", provider="acme", capacity=5)
    db.session.add(tls_type)
    db.session.flush()
    certificate = Service(
        organisation_id=organisation.id,
        service_type_id=tls_type.id,
        name="docs.example.org",
        parameters={"names": ["docs.example.org", "*.docs.example.org"]},
        state=ServiceState.PROVISIONING,
        requested_by_id=tenant_member.id,
    )
    db.session.add(certificate)
    db.session.commit()
    from infrawg.actions import Action
    from infrawg.provisioning.service import _set_state

    _set_state(None, certificate, ServiceState.ACTIVE, None, Action.SERVICE_ACTIVE)
    db.session.commit()
    run_due_jobs()
    expected = {
        ("blackbox_https", "https://docs.example.org/", str(organisation.id), str(certificate.id)),
        ("blackbox_ssh", "web1.vms.infrawg.test:22", str(organisation.id), str(server.id)),
    }
    eventually(lambda: expected <= _listed(prometheus) or None, what="both kinds' targets")
    assert not any("*" in instance for _job, instance, _o, _s in _listed(prometheus))
