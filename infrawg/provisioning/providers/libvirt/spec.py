"""A VM's desired state (`VmSpec`), the provider's settings, and the diff between two specs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from infrawg.provisioning.base import Change, Op, Spec
from infrawg.provisioning.providers import cloudinit

__all__ = ["MAX_DISK_GIB", "MAX_MEMORY_MIB", "MAX_VCPUS", "LibvirtConfig", "Power", "VmSpec"]

MAX_VCPUS = 64
MAX_MEMORY_MIB = 256 * 1024
MAX_DISK_GIB = 4096
IMAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class Power(StrEnum):
    """The power state a VM should be in (and libvirt's states folded onto it)."""

    RUNNING = "running"
    PAUSED = "paused"
    SHUTOFF = "shutoff"


@dataclass(frozen=True)
class VmSpec(Spec):
    """One VM: its size, image and keys, and whose it is (R13: the tenant gets root).

    `name` is the domain's name and the guest's hostname; `instance_id` changes only on a
    rebuild (cloud-init runs once per instance id). `ssh_keys` are authorized_keys lines.
    """

    kind: ClassVar[str] = "vm"

    name: str
    vcpus: int
    memory_mib: int
    disk_gib: int
    image: str
    ssh_keys: tuple[str, ...]
    tenant: str
    organisation_id: int
    service_id: int
    power: Power = Power.RUNNING
    domain: str = ""  # DNS domain for the FQDN; empty: the hostname alone
    instance_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", cloudinit.validate_hostname(self.name))
        object.__setattr__(self, "power", Power(self.power))
        object.__setattr__(self, "ssh_keys", tuple(self.ssh_keys))
        object.__setattr__(self, "instance_id", self.instance_id or f"{self.name}-1")

    @property
    def ref(self) -> str:
        return self.name

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.domain.strip('.')}" if self.domain.strip(".") else self.name

    def items(self) -> dict[str, Any]:
        return {
            "vcpus": self.vcpus,
            "memory_mib": self.memory_mib,
            "disk_gib": self.disk_gib,
            "image": self.image,
            "ssh_keys": self.ssh_keys,
            "owner": (self.tenant, self.organisation_id, self.service_id),
            "power": self.power,
        }


@dataclass(frozen=True)
class LibvirtConfig:
    """Where the hypervisor is and where a VM's files go on it."""

    uri: str = "qemu:///system"
    disk_directory: Path = Path("/var/lib/libvirt/images")
    seed_directory: Path = Path("/var/lib/libvirt/infrawg-seeds")
    network: str = "default"
    domain_type: str = ""  # empty: "test" on the test driver, else "kvm"
    arch: str = "x86_64"
    shutdown_timeout: float = 120.0  # seconds a guest gets to power off for a resize
    # The storage pool holding the images (`<image>.qcow2`) and the VMs' disks (`<name>.qcow2`,
    # a qcow2 overlay of the image). Empty: disks are not managed, only their path rendered.
    pool: str = ""


def hardware(spec: VmSpec) -> tuple[int, int, int, str]:
    return (spec.vcpus, spec.memory_mib, spec.disk_gib, spec.image)


def describe_changes(old: VmSpec, new: VmSpec) -> str:
    parts = [
        f"{label} {a} -> {b}"
        for label, a, b in (
            ("vcpus", old.vcpus, new.vcpus),
            ("memory", f"{old.memory_mib} MiB", f"{new.memory_mib} MiB"),
            ("disk", f"{old.disk_gib} GiB", f"{new.disk_gib} GiB"),
            ("image", old.image, new.image),
            ("instance", old.instance_id, new.instance_id),
        )
        if a != b
    ]
    return ", ".join(parts)


def diff_vm(
    desired: VmSpec, current: VmSpec | None, *, manages_disks: bool = True
) -> tuple[list[Change], list[str]]:
    """The changes taking `current` to `desired` and the warnings a reviewer should read.

    `manages_disks`: the provider creates, grows and replaces disk volumes (a storage pool is
    configured); otherwise the plan says that disk changes are recorded only."""
    changes: list[Change] = []
    warnings: list[str] = []
    if current is None:
        summary = (
            f"{desired.vcpus} vCPU, {desired.memory_mib} MiB, {desired.disk_gib} GiB "
            f"{desired.image} for {desired.tenant}"
        )
        changes.append(Change(Op.CREATE, "domain", None, summary))
        if desired.power is not Power.SHUTOFF:
            changes.append(Change(Op.UPDATE, "power", Power.SHUTOFF, desired.power))
        return changes, warnings
    resized: tuple[tuple[str, object, object], ...] = (
        ("vcpus", current.vcpus, desired.vcpus),
        ("memory_mib", current.memory_mib, desired.memory_mib),
        ("disk_gib", current.disk_gib, max(desired.disk_gib, current.disk_gib)),
    )
    for path, old, new in resized:
        if old != new:
            changes.append(Change(Op.UPDATE, path, old, new))
    if changes and current.power is not Power.SHUTOFF:
        warnings.append(f"{desired.name} is powered off and on again for the resize.")
    rebuilt: tuple[tuple[str, object, object], ...] = (
        ("disk_gib", current.disk_gib, min(desired.disk_gib, current.disk_gib)),
        ("image", current.image, desired.image),
        ("instance_id", current.instance_id, desired.instance_id),
    )
    for path, old, new in rebuilt:
        if old != new:
            changes.append(Change(Op.REPLACE, path, old, new))
    if any(c.op is Op.REPLACE for c in changes):
        if desired.disk_gib < current.disk_gib:
            warnings.append("A disk is never shrunk in place: a smaller disk means a rebuild.")
        warnings.append(
            f"{desired.name} is rebuilt from {desired.image}: its disk starts afresh and "
            "cloud-init runs again."
        )
    if not manages_disks and any(c.path == "disk_gib" or c.path == "image" for c in changes):
        warnings.append("No storage pool is configured: disk changes are recorded only.")
    if current.ssh_keys != desired.ssh_keys:
        changes.append(
            Change(Op.UPDATE, "ssh_keys", _fingerprints(current), _fingerprints(desired))
        )
        warnings.append("New keys reach the guest's root on a rebuild (cloud-init runs once).")
    owner_old, owner_new = current.items()["owner"], desired.items()["owner"]
    if owner_old != owner_new or current.domain != desired.domain:
        changes.append(Change(Op.UPDATE, "owner", owner_old, owner_new))
    if current.power is not desired.power:
        changes.append(Change(Op.UPDATE, "power", current.power, desired.power))
    return changes, list(dict.fromkeys(warnings))


def _fingerprints(spec: VmSpec) -> str:
    return ", ".join(cloudinit.key_fingerprint(k) for k in spec.ssh_keys)
