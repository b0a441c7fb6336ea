"""A VM's libvirt domain XML: rendered from a `VmSpec`, read back into one, and the test
driver's node file written back after a change."""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt

from infrawg.errors import Conflict, Invalid
from infrawg.provisioning.base import ProviderError
from infrawg.provisioning.providers.libvirt.spec import LibvirtConfig, Power, VmSpec

__all__ = ["METADATA_KEY", "METADATA_NS", "render_domain_xml", "spec_from_domain_xml"]

METADATA_NS = "https://infrawg.org/schemas/libvirt/vm/1"
METADATA_KEY = "infrawg"
TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
ET.register_namespace(METADATA_KEY, METADATA_NS)
ET.register_namespace("test", TEST_NS)


# -- XML -----------------------------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def metadata_element(spec: VmSpec) -> ET.Element:
    q = f"{{{METADATA_NS}}}"
    vm = ET.Element(f"{q}vm")
    for tag, value in (
        ("tenant", spec.tenant),
        ("organisation", str(spec.organisation_id)),
        ("service", str(spec.service_id)),
        ("image", spec.image),
        ("disk-gib", str(spec.disk_gib)),
        ("domain", spec.domain),
        ("instance-id", spec.instance_id),
    ):
        _sub(vm, q + tag, value)
    keys = _sub(vm, q + "ssh-keys")
    for key in spec.ssh_keys:
        _sub(keys, q + "key", key)
    return vm


def plain_metadata(spec: VmSpec) -> str:
    """The metadata element without its namespace: `setMetadata` adds it from `key`/`uri`."""
    element = metadata_element(spec)
    for node in element.iter():
        node.tag = node.tag.removeprefix(f"{{{METADATA_NS}}}")
    return ET.tostring(element, encoding="unicode")


def render_domain_xml(
    spec: VmSpec,
    config: LibvirtConfig,
    *,
    uuid_: str | None = None,
    domain_type: str = "kvm",
    disk_path: str | None = None,
) -> str:
    """The libvirt domain XML for `spec`: disk, the seed CD-ROM, one NIC, a serial console.

    `disk_path`: the disk volume's path (from the storage pool); by default a file named
    after the VM in `config.disk_directory`."""
    domain = ET.Element("domain", type=domain_type)
    _sub(domain, "name", spec.name)
    if uuid_:
        _sub(domain, "uuid", uuid_)
    _sub(domain, "metadata").append(metadata_element(spec))
    _sub(domain, "memory", str(spec.memory_mib), unit="MiB")
    _sub(domain, "currentMemory", str(spec.memory_mib), unit="MiB")
    _sub(domain, "vcpu", str(spec.vcpus), placement="static")
    os_ = _sub(domain, "os")
    _sub(os_, "type", "hvm", arch=config.arch)
    _sub(os_, "boot", dev="hd")
    features = _sub(domain, "features")
    _sub(features, "acpi")
    _sub(domain, "on_poweroff", "destroy")
    _sub(domain, "on_reboot", "restart")
    _sub(domain, "on_crash", "destroy")
    devices = _sub(domain, "devices")
    disk = _sub(devices, "disk", type="file", device="disk")
    _sub(disk, "driver", name="qemu", type="qcow2")
    _sub(disk, "source", file=disk_path or str(config.disk_directory / f"{spec.name}.qcow2"))
    _sub(disk, "target", dev="vda", bus="virtio")
    seed = _sub(devices, "disk", type="file", device="cdrom")
    _sub(seed, "driver", name="qemu", type="raw")
    _sub(seed, "source", file=str(config.seed_directory / spec.name / "seed.iso"))
    _sub(seed, "target", dev="sda", bus="sata")
    _sub(seed, "readonly")
    nic = _sub(devices, "interface", type="network")
    _sub(nic, "source", network=config.network)
    _sub(nic, "model", type="virtio")
    _sub(devices, "serial", type="pty")
    _sub(devices, "console", type="pty")
    return ET.tostring(domain, encoding="unicode")


def spec_from_domain_xml(xml: str, power: Power) -> VmSpec:
    """The spec a domain's XML describes; ProviderError when it was not made by infrawg."""
    root = ET.fromstring(xml)  # noqa: S314 - XML from our own hypervisor connection
    name = root.findtext("name", "")
    vm = root.find(f"metadata/{{{METADATA_NS}}}vm")
    if vm is None:
        # Refused, not treated as absent: defining a VM of that name would overwrite it.
        raise Conflict(
            f"A domain named {name} exists on the hypervisor without infrawg metadata: it is "
            "not ours to manage. Choose another name for the VM."
        )

    def meta(tag: str) -> str:
        return vm.findtext(f"{{{METADATA_NS}}}{tag}", "") or ""

    memory = root.find("memory")
    if memory is None or memory.text is None:
        raise ProviderError(f"The domain {name} has no memory size.")
    memory_mib = _to_mib(int(memory.text), memory.get("unit", "KiB"))
    keys = tuple(
        k.text or "" for k in vm.iterfind(f"{{{METADATA_NS}}}ssh-keys/{{{METADATA_NS}}}key")
    )
    try:
        return VmSpec(
            name=name,
            vcpus=int(root.findtext("vcpu", "0")),
            memory_mib=memory_mib,
            disk_gib=int(meta("disk-gib") or 0),
            image=meta("image"),
            ssh_keys=keys,
            tenant=meta("tenant"),
            organisation_id=int(meta("organisation") or 0),
            service_id=int(meta("service") or 0),
            power=power,
            domain=meta("domain"),
            instance_id=meta("instance-id"),
        )
    except (ValueError, Invalid) as exc:
        raise ProviderError(f"The domain {name} has damaged infrawg metadata: {exc}") from exc


_UNITS = {"b": 1, "bytes": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2}
_UNITS |= {"g": 1024**3, "gib": 1024**3, "kb": 1000, "mb": 1000**2, "gb": 1000**3}


def _to_mib(value: int, unit: str) -> int:
    return value * _UNITS[unit.lower()] // 1024**2


# -- the test driver's node file ----------------------------------------------------------------


def node_file_of(uri: str) -> Path | None:
    if not uri.startswith("test:///") or uri == "test:///default":
        return None
    return Path(uri.removeprefix("test://"))


def save_test_node(conn: libvirt.virConnect, path: Path) -> None:
    """Write the test driver's domains and storage pools back into its node file (the driver
    keeps them in memory only): each domain with its power state as the driver's
    `test:runstate`, each pool with its volumes inside it."""
    node = ET.parse(path).getroot()  # noqa: S314 - the node file we were configured with
    for old in [*node.findall("domain"), *node.findall("pool")]:
        node.remove(old)
    for pool in conn.listAllStoragePools():
        element = ET.fromstring(pool.XMLDesc())  # noqa: S314 - from our connection
        for volume in pool.listAllVolumes() if pool.isActive() else ():
            element.append(ET.fromstring(volume.XMLDesc()))  # noqa: S314
        node.append(element)
    for dom in conn.listAllDomains():
        element = ET.fromstring(  # noqa: S314 - from our connection
            dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
        )
        state = dom.state()[0]
        _sub(element, f"{{{TEST_NS}}}runstate", str(state))
        if not dom.isPersistent():
            _sub(element, f"{{{TEST_NS}}}transient")
        node.append(element)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            ET.ElementTree(node).write(fh, encoding="utf-8", xml_declaration=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
