"""The monitoring engine without a running Prometheus: specs, diffs, rendering, promtool's
verdict on what is written, and concurrent writers on one directory."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from infrawg.errors import Invalid
from infrawg.provisioning.base import Op, Provider, ProviderError, StalePlan
from infrawg.provisioning.providers.monitoring import (
    Job,
    MonitoringConfig,
    MonitoringProvider,
    MonitoringSpec,
    PromtoolRefused,
    Target,
    TargetKind,
    certificate_targets,
    check_alertmanager_config,
    render_alertmanager_config,
    render_prometheus_config,
    server_targets,
)
from infrawg.provisioning.registry import build_config
from infrawg.registry import verify_class
from tests.monitoring.conftest import fast_config


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: Target("node", "vm1.example.org", "1"), "host:port"),
        (lambda: Target("node", "vm1.example.org:99999", "1"), "host:port"),
        (lambda: Target("https", "http://example.org/", "1"), "https://"),
        (lambda: Target("ssh", "vm1:22", "../etc"), "service id"),
        (lambda: MonitoringSpec("a/b"), "organisation id"),
        (
            lambda: MonitoringSpec("o", (Target("ssh", "vm:22", "1"), Target("ssh", "vm:22", "2"))),
            "repeated: ssh vm:22",
        ),
    ],
)
def test_r13_spec_refuses_what_prometheus_could_not_use(build, words: str) -> None:
    with pytest.raises(Invalid, match=words):
        build()


def test_r13_plan_diffs_targets(tmp_path: Path) -> None:
    provider = MonitoringProvider(fast_config(tmp_path))
    old = MonitoringSpec("7", (Target("node", "vm1:9100", "1"), Target("ssh", "vm1:22", "1")))
    provider.apply(provider.plan_for(old))
    new = MonitoringSpec(
        "7",
        (
            Target("node", "vm1:9100", "2"),  # moved to another service
            Target("https", "https://www.example.org/", "3"),
        ),
    )
    plan = provider.plan_for(new)
    assert [(c.op, c.path) for c in plan.changes] == [
        (Op.CREATE, "https https://www.example.org/"),
        (Op.UPDATE, "node vm1:9100"),
        (Op.DELETE, "ssh vm1:22"),
    ]
    assert "- service 1" in plan.render() and "+ service 2" in plan.render()
    provider.apply(plan)
    assert provider.read("7").state == new
    # One file per organisation and job; a job without targets has none.
    config = provider.config
    assert not config.targets_file("7", Job.BLACKBOX_SSH).exists()
    assert json.loads(config.targets_file("7", Job.NODE).read_text()) == [
        {
            "targets": ["vm1:9100"],
            "labels": {"organisation": "7", "service": "2", "kind": "node"},
        }
    ]
    assert provider.destroy("7").applied
    assert not provider.read("7").exists


def test_r13_alerting_only_with_an_alertmanager(tmp_path: Path) -> None:
    plain = render_prometheus_config(MonitoringConfig(directory=tmp_path))
    assert "alerting" not in plain
    assert plain["global"]["scrape_timeout"] == "10s"
    jobs = {s["job_name"]: s for s in plain["scrape_configs"]}
    assert jobs["blackbox_ssh"]["params"] == {"module": ["ssh_banner"]}
    assert jobs["blackbox_https"]["relabel_configs"][-1]["replacement"] == "127.0.0.1:9115"
    assert "relabel_configs" not in jobs["node"]
    with_am = render_prometheus_config(
        MonitoringConfig(directory=tmp_path, alertmanager_urls=("https://am.example.org/am",))
    )
    assert with_am["alerting"]["alertmanagers"] == [
        {
            "scheme": "https",
            "static_configs": [{"targets": ["am.example.org"]}],
            "path_prefix": "/am",
        }
    ]
    fast = render_prometheus_config(fast_config(tmp_path))
    assert fast["global"]["scrape_timeout"] == "1s"  # never longer than the interval


def test_r13_a_file_promtool_refuses_rolls_the_write_back(tmp_path: Path) -> None:
    provider = MonitoringProvider(fast_config(tmp_path))
    mine = MonitoringSpec("mine", (Target("node", "vm1:9100", "1"),))
    provider.apply(provider.plan_for(mine))
    # Someone edits another organisation's file by hand and breaks it.
    broken = provider.config.targets_file("other", Job.NODE)
    broken.write_text('[{"targets": ["vm9:9100"], "labels": {"bad label": "x"}}]')

    more = MonitoringSpec("mine", (Target("node", "vm1:9100", "1"), Target("ssh", "vm1:22", "1")))
    with pytest.raises(PromtoolRefused, match="not a valid label name") as refused:
        provider.apply(provider.plan_for(more))
    assert "promtool check config refused" in str(refused.value)
    assert provider.read("mine").state == mine  # as it was before


def test_r13_a_foreign_target_file_is_reported(tmp_path: Path) -> None:
    provider = MonitoringProvider(fast_config(tmp_path))
    path = provider.config.targets_file("7", Job.NODE)
    path.parent.mkdir(parents=True)
    path.write_text('[{"targets": ["vm1:9100"], "labels": {"organisation": "8"}}]')
    with pytest.raises(ProviderError, match=str(path)):
        provider.read("7")
    for text in (
        json.dumps(
            [
                {
                    "targets": ["no port"],
                    "labels": {"organisation": "7", "kind": "node", "service": "1"},
                }
            ]
        ),
        '[{"targets": ["vm1:9100"], "labels": ["organisation"]}]',
        "{not json",
    ):
        path.write_text(text)
        with pytest.raises(ProviderError, match="not a target file written by infrawg"):
            provider.read("7")


def test_r13_concurrent_writers_share_one_directory(tmp_path: Path) -> None:
    provider = MonitoringProvider(fast_config(tmp_path))
    specs = [
        MonitoringSpec(f"org{i}", (Target(TargetKind.NODE, f"vm{i}:9100", str(i)),))
        for i in range(6)
    ]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(specs))

    def apply(spec: MonitoringSpec) -> None:
        try:
            own = MonitoringProvider(provider.config)  # as another worker would
            plan = own.plan_for(spec)
            barrier.wait()
            own.apply(plan)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=apply, args=(s,)) for s in specs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for spec in specs:
        assert provider.read(spec.organisation).state == spec
    leftovers = [p for p in tmp_path.rglob("*.tmp")]
    assert leftovers == []
    assert provider.verify(specs[0])[0].ok  # promtool check config


def test_r13_alertmanager_config_is_checked_by_amtool(tmp_path: Path) -> None:
    good = tmp_path / "alertmanager.yml"
    good.write_text(
        json.dumps(render_alertmanager_config("https://site.example.org/alerts", "t0ken"))
    )
    check_alertmanager_config(good)
    broken_config = render_alertmanager_config("https://site.example.org/alerts", "t0ken")
    broken_config["route"]["receiver"] = "nobody"
    broken = tmp_path / "broken.yml"
    broken.write_text(json.dumps(broken_config))
    with pytest.raises(PromtoolRefused, match="nobody"):
        check_alertmanager_config(broken)
    token_file = tmp_path / "token"
    token_file.write_text("t0ken")
    from_file = render_alertmanager_config("https://site.example.org/a", token_file=token_file)
    assert "credentials" not in json.dumps(from_file).replace("credentials_file", "")
    good.write_text(json.dumps(from_file))
    check_alertmanager_config(good)
    with pytest.raises(ValueError, match="not both"):
        render_alertmanager_config("https://site.example.org/a", "t", token_file=token_file)


def test_r13_a_server_and_a_certificate_become_targets() -> None:
    node, ssh = server_targets(12, "vm1.example.org")
    assert (node.path, ssh.path) == ("node vm1.example.org:9100", "ssh vm1.example.org:22")
    assert node.service == ssh.service == "12"
    assert server_targets(12, "2001:db8::1", ssh_port=2222)[1].address == "[2001:db8::1]:2222"
    probes = certificate_targets(13, ["www.example.org.", "*.example.org", "example.org"])
    assert [t.address for t in probes] == ["https://www.example.org/", "https://example.org/"]
    assert certificate_targets(13, ["a.example"], port=8443)[0].address == "https://a.example:8443/"


def test_r13_provider_conforms_and_refuses_a_stale_plan(tmp_path: Path) -> None:
    assert verify_class(Provider, MonitoringProvider, factory=None) == []
    provider = MonitoringProvider(fast_config(tmp_path))
    plan = provider.plan_for(MonitoringSpec("9", (Target("node", "vm1:9100", "1"),)))
    # Someone else writes the organisation's targets after the plan was made.
    provider.apply(provider.plan_for(MonitoringSpec("9", (Target("node", "vm2:9100", "1"),))))
    with pytest.raises(StalePlan):
        provider.apply(plan)
    dry = provider.apply(provider.plan_for(MonitoringSpec("9")), dry_run=True)
    assert not dry.applied and provider.read("9").exists


def test_r13_settings_come_as_plain_text(tmp_path: Path) -> None:
    config = build_config(
        MonitoringConfig,
        {
            "directory": str(tmp_path),
            "prometheus_url": "http://127.0.0.1:9090",
            "alertmanager_urls": "http://127.0.0.1:9093,http://127.0.0.1:9094",
            "certificate_days": "21",
            "timeout": "1.5",
        },
    )
    assert config.directory == tmp_path
    assert config.alertmanager_urls == ("http://127.0.0.1:9093", "http://127.0.0.1:9094")
    assert (config.certificate_days, config.timeout) == (21, 1.5)
    with pytest.raises(Invalid, match="directory"):
        build_config(MonitoringConfig, {})
