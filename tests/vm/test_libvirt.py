"""The libvirt provider against libvirt's own test driver (`test:///<node file>`), unmocked.

Every test gets an empty hypervisor in a node file; the provider saves it back after each
change, so a second provider, a bare libvirt connection or another process sees the same VMs.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest
import yaml

from infrawg.errors import Conflict, Invalid
from infrawg.provisioning.base import Op, Provider, ProviderError, StalePlan
from infrawg.provisioning.providers.libvirt import (
    METADATA_NS,
    LibvirtConfig,
    LibvirtProvider,
    Power,
    VmSpec,
    render_domain_xml,
    spec_from_domain_xml,
)
from infrawg.provisioning.registry import build_config
from infrawg.registry import verify_class

LIST_DOMAINS = """
import sys, libvirt
conn = libvirt.openReadOnly(sys.argv[1])
for dom in conn.listAllDomains():
    print(dom.name(), dom.state()[0], dom.maxVcpus() if dom.isActive() else "-")
"""


def _apply(provider: LibvirtProvider, spec: VmSpec) -> list[str]:
    return list(provider.apply(provider.plan_for(spec)).log)


def _ops(provider: LibvirtProvider, spec: VmSpec) -> dict[str, Op]:
    return {c.path: c.op for c in provider.plan_for(spec).changes}


def _other_process(uri: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", LIST_DOMAINS, uri], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def test_the_provider_implements_the_interface() -> None:
    assert verify_class(Provider, LibvirtProvider, factory=None) == []
    assert LibvirtProvider.kind == "vm" and LibvirtProvider.name == "libvirt"


def test_r13_libvirt_define_start_resize_stop_undefine_on_the_test_driver(
    vm_provider: LibvirtProvider, vm_spec: VmSpec, libvirt_config: LibvirtConfig
) -> None:
    plan = vm_provider.plan_for(vm_spec)
    assert {c.path: c.op for c in plan.changes} == {"domain": Op.CREATE, "power": Op.UPDATE}
    assert "+ 1 vCPU, 1024 MiB, 10 GiB debian-12-genericcloud-amd64" in plan.render()

    # define and start
    log = _apply(vm_provider, vm_spec)
    assert any(line.startswith("defined web1") for line in log)
    observed = vm_provider.read("web1")
    assert observed.state == vm_spec
    assert vm_provider.plan_for(vm_spec).empty
    # Another provider (a new connection), a bare libvirt client and another process all see it.
    assert LibvirtProvider(libvirt_config).read("web1").state == vm_spec
    assert _other_process(libvirt_config.uri) == ["web1 1 1"]

    # resize: planned as updates, with the power cycle said out loud
    bigger = dataclasses.replace(vm_spec, vcpus=2, memory_mib=2048)
    plan = vm_provider.plan_for(bigger)
    assert {c.path: c.op for c in plan.changes} == {"vcpus": Op.UPDATE, "memory_mib": Op.UPDATE}
    assert any("powered off and on again" in w for w in plan.warnings)
    log = list(vm_provider.apply(plan).log)
    assert "powered off web1" in log and any("vcpus 1 -> 2" in line for line in log)
    assert vm_provider.read("web1").state == bigger
    assert _other_process(libvirt_config.uri) == ["web1 1 2"]  # running again, with 2 vCPUs
    assert all(c.ok for c in vm_provider.verify(bigger))

    # stop
    stopped = dataclasses.replace(bigger, power=Power.SHUTOFF)
    assert _ops(vm_provider, stopped) == {"power": Op.UPDATE}
    _apply(vm_provider, stopped)
    assert _other_process(libvirt_config.uri) == ["web1 5 -"]
    assert all(c.ok for c in vm_provider.verify(stopped))

    # undefine (decommission): the domain and its seed are gone
    result = vm_provider.destroy("web1")
    assert result.applied and "undefined web1" in result.log
    assert vm_provider.read("web1").state is None
    assert _other_process(libvirt_config.uri) == []
    assert not (libvirt_config.seed_directory / "web1").exists()
    checks = vm_provider.verify(stopped)
    assert [c.ok for c in checks] == [False] and "not on" in checks[0].detail


def test_r13_the_domain_carries_its_owner_and_its_seed(
    vm_provider: LibvirtProvider, vm_spec: VmSpec, libvirt_config: LibvirtConfig
) -> None:
    _apply(vm_provider, vm_spec)
    conn = libvirt.openReadOnly(libvirt_config.uri)
    try:
        dom = conn.lookupByName("web1")
        meta = ET.fromstring(dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS))  # noqa: S314
        xml = ET.fromstring(dom.XMLDesc(0))  # noqa: S314
    finally:
        conn.close()
    assert meta.findtext("tenant") == "Example Tenant Ltd"
    assert (meta.findtext("organisation"), meta.findtext("service")) == ("7", "42")
    seed = libvirt_config.seed_directory / "web1"
    cdrom = xml.find("devices/disk[@device='cdrom']/source")
    assert cdrom is not None and cdrom.get("file") == str(seed / "seed.iso")
    assert (seed / "seed.iso").stat().st_size > 0
    user_data = yaml.safe_load((seed / "user-data").read_text())
    assert user_data["users"][0]["ssh_authorized_keys"] == list(vm_spec.ssh_keys)
    assert user_data["fqdn"] == "web1.vms.infrawg.test"


def test_r13_verify_reads_back_drift(
    vm_provider: LibvirtProvider, vm_spec: VmSpec, node_file: Path
) -> None:
    _apply(vm_provider, vm_spec)
    assert all(c.ok for c in vm_provider.verify(vm_spec))

    # Someone edits the hypervisor behind our back: 4 vCPUs, paused, another organisation.
    node = node_file.read_text()
    node = node.replace('<vcpu placement="static">1</vcpu>', '<vcpu placement="static">4</vcpu>')
    node = node.replace("<test:runstate>1</test:runstate>", "<test:runstate>3</test:runstate>")
    node = node.replace("<infrawg:organisation>7<", "<infrawg:organisation>8<")
    node_file.write_text(node)

    failed = {c.name: c.detail for c in vm_provider.verify(vm_spec) if not c.ok}
    assert failed == {
        "vcpus": "is 4, wants 1",
        "power state": "is paused, wants running",
        "owner": "is ('Example Tenant Ltd', 8, 42), wants ('Example Tenant Ltd', 7, 42)",
    }
    assert _ops(vm_provider, vm_spec) == {
        "vcpus": Op.UPDATE,
        "owner": Op.UPDATE,
        "power": Op.UPDATE,
    }
    _apply(vm_provider, vm_spec)
    assert all(c.ok for c in vm_provider.verify(vm_spec))
    assert vm_provider.plan_for(vm_spec).empty


def test_r13_suspend_resume_reboot(vm_provider: LibvirtProvider, vm_spec: VmSpec) -> None:
    _apply(vm_provider, vm_spec)
    assert vm_provider.suspend("web1") == ["suspend: web1 is now paused"]
    assert vm_provider.read("web1").state.power is Power.PAUSED  # type: ignore[union-attr]
    assert vm_provider.suspend("web1") == ["web1 is already paused"]
    with pytest.raises(Invalid, match="only a running VM can reboot"):
        vm_provider.reboot("web1")
    assert vm_provider.resume("web1") == ["resume: web1 is now running"]
    assert vm_provider.reboot("web1") == ["reboot: web1 is now running"]
    _apply(vm_provider, dataclasses.replace(vm_spec, power=Power.SHUTOFF))
    with pytest.raises(Invalid, match="web1 is shutoff; only a paused VM can resume"):
        vm_provider.resume("web1")
    with pytest.raises(Invalid, match="There is no VM web2"):
        vm_provider.suspend("web2")


def test_r13_rebuild_is_planned_as_a_replace(vm_provider: LibvirtProvider, vm_spec: VmSpec) -> None:
    _apply(vm_provider, vm_spec)
    fresh = vm_provider.rebuild(vm_spec)
    plan = vm_provider.plan_for(fresh)
    assert {c.path: c.op for c in plan.changes} == {"instance_id": Op.REPLACE}
    assert "! instance_id" in plan.render()
    vm_provider.apply(plan)
    assert vm_provider.read("web1").state == fresh
    meta = (vm_provider.config.seed_directory / "web1" / "meta-data").read_text()
    assert yaml.safe_load(meta)["instance-id"] == fresh.instance_id


def test_new_keys_and_owner_update_in_place(
    vm_provider: LibvirtProvider, vm_spec: VmSpec, tenant_keys: tuple[str, str]
) -> None:
    _apply(vm_provider, vm_spec)
    one_key = dataclasses.replace(vm_spec, ssh_keys=tenant_keys[:1], service_id=43)
    plan = vm_provider.plan_for(one_key)
    assert {c.path: c.op for c in plan.changes} == {"ssh_keys": Op.UPDATE, "owner": Op.UPDATE}
    assert "SHA256:" in plan.render()
    vm_provider.apply(plan)
    assert vm_provider.read("web1").state == one_key
    assert all(c.ok for c in vm_provider.verify(one_key))


def test_stale_and_dry_run_plans_change_nothing(
    vm_provider: LibvirtProvider, vm_spec: VmSpec, libvirt_config: LibvirtConfig
) -> None:
    plan = vm_provider.plan_for(vm_spec)
    assert not vm_provider.apply(plan, dry_run=True).applied
    assert vm_provider.read("web1").state is None
    # Someone else creates it (from another provider instance) after my plan was reviewed.
    _apply(LibvirtProvider(libvirt_config), dataclasses.replace(vm_spec, vcpus=3))
    with pytest.raises(StalePlan):
        vm_provider.apply(plan)
    assert vm_provider.read("web1").state.vcpus == 3  # type: ignore[union-attr]


def test_a_domain_not_made_by_infrawg_is_not_managed(
    vm_spec: VmSpec, libvirt_config: LibvirtConfig
) -> None:
    xml = render_domain_xml(vm_spec, libvirt_config, domain_type="test")
    root = ET.fromstring(xml)  # noqa: S314 - our own rendering
    root.remove(root.find("metadata"))  # type: ignore[arg-type]
    with pytest.raises(Conflict, match="without infrawg metadata"):
        spec_from_domain_xml(ET.tostring(root, encoding="unicode"), Power.SHUTOFF)
    assert spec_from_domain_xml(xml, Power.RUNNING) == vm_spec


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"vcpus": 0}, "between 1 and 64 virtual CPUs"),
        ({"memory_mib": 100}, "256 MiB"),
        ({"disk_gib": 0}, "disk"),
        ({"image": "../etc/passwd"}, "not an image name"),
        ({"organisation_id": 0}, "belongs to a tenant"),
        ({"ssh_keys": ("ssh-rsa AAAA",)}, "SSH key 1"),
    ],
)
def test_a_bad_spec_is_refused_before_anything_happens(
    vm_provider: LibvirtProvider, vm_spec: VmSpec, change: dict, message: str
) -> None:
    with pytest.raises(Invalid, match=message):
        vm_provider.plan_for(dataclasses.replace(vm_spec, **change))
    assert vm_provider.read("web1").state is None


FOREIGN = """<domain type='test'><name>web1</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os></domain>"""


def test_a_foreign_domain_of_the_same_name_is_refused_not_overwritten(
    vm_provider: LibvirtProvider, vm_spec: VmSpec, node_file: Path
) -> None:
    node_file.write_text(node_file.read_text().replace("</node>", FOREIGN + "</node>"))
    with pytest.raises(Conflict, match="not ours to manage"):
        vm_provider.plan_for(vm_spec)
    conn = libvirt.openReadOnly(f"test://{node_file}")
    try:
        assert conn.lookupByName("web1").maxMemory() == 512 * 1024  # untouched
    finally:
        conn.close()
    [check] = [c for c in vm_provider.verify(vm_spec) if not c.ok]
    assert check.name == "infrawg metadata"


def test_the_provider_is_built_from_plain_settings(tmp_path: Path, node_file: Path) -> None:
    settings = {
        "uri": f"test://{node_file}",
        "disk_directory": str(tmp_path / "disks"),
        "seed_directory": str(tmp_path / "seeds"),
        "shutdown_timeout": "30",
    }
    config = build_config(LibvirtConfig, settings)
    assert config.seed_directory == tmp_path / "seeds" and config.shutdown_timeout == 30.0
    assert LibvirtProvider(config).domain_type == "test"
    assert LibvirtProvider(LibvirtConfig(uri="qemu:///system")).domain_type == "kvm"


APPLY_IN_A_PROCESS = """
import dataclasses, pickle, sys
from infrawg.provisioning.providers.libvirt import LibvirtProvider
config, spec = pickle.loads(bytes.fromhex(sys.argv[1]))
provider = LibvirtProvider(config)
provider.apply(provider.plan_for(spec))
"""


def test_processes_changing_the_test_hypervisor_at_once_all_land(
    vm_spec: VmSpec, libvirt_config: LibvirtConfig
) -> None:
    import pickle

    specs = [dataclasses.replace(vm_spec, name=f"vm{i}") for i in range(4)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", APPLY_IN_A_PROCESS, pickle.dumps((libvirt_config, s)).hex()],
            cwd=Path(__file__).resolve().parents[2],
        )
        for s in specs
    ]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]
    provider = LibvirtProvider(libvirt_config)
    for spec in specs:  # the node file's lock kept every writer's change
        assert provider.read(spec.name).state == spec


def test_the_hypervisor_refusing_is_a_provider_error(
    vm_spec: VmSpec, libvirt_config: LibvirtConfig, tmp_path: Path
) -> None:
    # libvirt refuses to define a domain for an architecture it does not know.
    wrong = LibvirtProvider(dataclasses.replace(libvirt_config, arch="no-such-arch"))
    with pytest.raises(ProviderError, match=libvirt_config.uri):
        wrong.apply(wrong.plan_for(vm_spec))
    assert wrong.read("web1").state is None
    missing = LibvirtProvider(LibvirtConfig(uri=f"test://{tmp_path}/no-such-node.xml"))
    with pytest.raises(ProviderError, match="Cannot connect"):
        missing.read("web1")


POOL = """<pool type='dir'><name>infrawg</name><capacity unit='GiB'>500</capacity>
  <target><path>{path}</path></target>
  <volume type='file'><name>debian-12-genericcloud-amd64.qcow2</name>
    <capacity unit='GiB'>3</capacity><target><format type='qcow2'/></target></volume>
  <volume type='file'><name>debian-13-genericcloud-amd64.qcow2</name>
    <capacity unit='GiB'>3</capacity><target><format type='qcow2'/></target></volume>
</pool>"""


@pytest.fixture
def pooled(libvirt_config: LibvirtConfig, node_file: Path, tmp_path: Path) -> LibvirtProvider:
    """A provider whose disks are volumes in the storage pool `infrawg`, beside two images."""
    pool = POOL.format(path=tmp_path / "pool")
    node_file.write_text(node_file.read_text().replace("</node>", pool + "</node>"))
    return LibvirtProvider(dataclasses.replace(libvirt_config, pool="infrawg"))


def _volume(uri: str, name: str) -> tuple[int, str] | None:
    """(capacity in bytes, backing file) of a volume, through a bare libvirt connection."""
    conn = libvirt.openReadOnly(uri)
    try:
        pool = conn.storagePoolLookupByName("infrawg")
        if f"{name}.qcow2" not in pool.listVolumes():
            return None
        volume = pool.storageVolLookupByName(f"{name}.qcow2")
        backing = ET.fromstring(volume.XMLDesc()).findtext("backingStore/path")  # noqa: S314
        return volume.info()[1], Path(backing or "").name
    finally:
        conn.close()


def test_r13_the_disk_is_an_overlay_of_the_image_in_the_pool(
    pooled: LibvirtProvider, vm_spec: VmSpec, tmp_path: Path
) -> None:
    uri = pooled.config.uri
    log = _apply(pooled, vm_spec)
    assert f"created the disk {tmp_path}/pool/web1.qcow2 (10 GiB on {vm_spec.image})" in log
    assert _volume(uri, "web1") == (10 * 1024**3, f"{vm_spec.image}.qcow2")
    checks = {c.name: c.ok for c in pooled.verify(vm_spec)}
    assert checks["disk volume attached"] and all(checks.values()), checks
    assert pooled.plan_for(vm_spec).empty

    # A new image is a rebuild: the old disk goes, a new overlay of the new image comes.
    trixie = dataclasses.replace(vm_spec, image="debian-13-genericcloud-amd64")
    plan = pooled.plan_for(trixie)
    assert {c.path: c.op for c in plan.changes} == {"image": Op.REPLACE}
    assert any("its disk starts afresh" in w for w in plan.warnings)
    pooled.apply(plan)
    assert _volume(uri, "web1") == (10 * 1024**3, "debian-13-genericcloud-amd64.qcow2")
    assert all(c.ok for c in pooled.verify(trixie))

    # Decommission deletes the disk; the images stay.
    assert f"deleted the disk {tmp_path}/pool/web1.qcow2" in pooled.destroy("web1").log
    assert _volume(uri, "web1") is None
    assert _volume(uri, "debian-13-genericcloud-amd64") is not None


def test_r13_growing_the_disk_is_planned_in_place_and_a_failure_leaves_the_vm_running(
    pooled: LibvirtProvider, vm_spec: VmSpec
) -> None:
    _apply(pooled, vm_spec)
    bigger = dataclasses.replace(vm_spec, disk_gib=20)
    plan = pooled.plan_for(bigger)
    assert {c.path: c.op for c in plan.changes} == {"disk_gib": Op.UPDATE}
    # libvirt's test driver cannot resize volumes (qemu's can): the failure is reported and
    # the VM, powered off for the change, is started again.
    with pytest.raises(ProviderError, match="virStorageVolResize"):
        pooled.apply(plan)
    observed = pooled.read("web1").state
    assert observed == vm_spec and observed.power is Power.RUNNING  # type: ignore[union-attr]

    smaller = dataclasses.replace(vm_spec, disk_gib=5)
    plan = pooled.plan_for(smaller)
    assert {c.path: c.op for c in plan.changes} == {"disk_gib": Op.REPLACE}
    assert any("never shrunk in place" in w for w in plan.warnings)


def test_an_image_missing_from_the_pool_is_refused_and_nothing_is_defined(
    pooled: LibvirtProvider, vm_spec: VmSpec
) -> None:
    ubuntu = dataclasses.replace(vm_spec, image="ubuntu-24.04")
    with pytest.raises(Invalid, match=r"The image ubuntu-24\.04 is not in the storage pool"):
        pooled.apply(pooled.plan_for(ubuntu))
    assert pooled.read("web1").state is None
    assert _volume(pooled.config.uri, "web1") is None
