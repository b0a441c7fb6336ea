"""The libvirt provider: read, plan, execute and verify a VM's domain; suspend, resume,
reboot, rebuild and decommission it."""

from __future__ import annotations

import fcntl
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import libvirt

from infrawg.errors import Conflict, Invalid
from infrawg.provisioning.base import (
    ApplyResult,
    Change,
    Check,
    Observed,
    Op,
    Plan,
    Provider,
    ProviderError,
)
from infrawg.provisioning.providers import cloudinit
from infrawg.provisioning.providers.libvirt.domainxml import (
    METADATA_KEY,
    METADATA_NS,
    node_file_of,
    plain_metadata,
    render_domain_xml,
    save_test_node,
    spec_from_domain_xml,
)
from infrawg.provisioning.providers.libvirt.spec import (
    IMAGE_NAME,
    MAX_DISK_GIB,
    MAX_MEMORY_MIB,
    MAX_VCPUS,
    LibvirtConfig,
    Power,
    VmSpec,
    describe_changes,
    diff_vm,
    hardware,
)

__all__ = ["LibvirtProvider"]

GIB = 1024**3
_STATES = {
    libvirt.VIR_DOMAIN_RUNNING: Power.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: Power.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: Power.PAUSED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: Power.PAUSED,
}


# -- the provider --------------------------------------------------------------------------------


class LibvirtProvider(Provider[VmSpec]):
    """VMs as libvirt domains; the seed from `cloudinit`; the URI from `LibvirtConfig.uri`."""

    kind = "vm"
    name = "libvirt"
    capabilities = frozenset({"suspend", "reboot", "resize", "rebuild"})
    Config = LibvirtConfig

    def __init__(self, config: LibvirtConfig) -> None:
        super().__init__(config)
        self.config: LibvirtConfig = config
        self._node = node_file_of(config.uri)

    def __repr__(self) -> str:
        return f"<LibvirtProvider {self.config.uri}>"

    @property
    def domain_type(self) -> str:
        if self.config.domain_type:
            return self.config.domain_type
        return "test" if self.config.uri.startswith("test:") else "kvm"

    @contextmanager
    def connection(self, *, write: bool = False) -> Iterator[libvirt.virConnect]:
        """A connection for one operation. On a test:/// node file, the file is locked for
        the operation and, after a write, saved with the changes."""
        # libvirt prints every error to stderr by default; ours become exceptions instead.
        libvirt.registerErrorHandler(_quiet, None)
        lock = None
        if self._node is not None:
            lock = open(self._node.with_name(self._node.name + ".lock"), "a")  # noqa: SIM115
            fcntl.flock(lock, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
        try:
            try:
                conn = libvirt.open(self.config.uri)
            except libvirt.libvirtError as exc:
                raise ProviderError(f"Cannot connect to {self.config.uri}: {exc}") from exc
            try:
                yield conn
            except libvirt.libvirtError as exc:
                # A refusal or failure of the hypervisor, not of the person: a job may retry.
                raise ProviderError(f"{self.config.uri}: {exc.get_error_message()}") from exc
            finally:
                if write and self._node is not None:  # what did happen, as libvirtd keeps it
                    save_test_node(conn, self._node)
                conn.close()
        finally:
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)
                lock.close()

    # -- interface ---------------------------------------------------------------------------

    def validate(self, spec: VmSpec) -> None:
        if not 1 <= spec.vcpus <= MAX_VCPUS:
            raise Invalid(f"A VM has between 1 and {MAX_VCPUS} virtual CPUs.")
        if not 256 <= spec.memory_mib <= MAX_MEMORY_MIB:
            raise Invalid(f"A VM has between 256 MiB and {MAX_MEMORY_MIB} MiB of memory.")
        if not 1 <= spec.disk_gib <= MAX_DISK_GIB:
            raise Invalid(f"A VM's disk has between 1 and {MAX_DISK_GIB} GiB.")
        if not IMAGE_NAME.match(spec.image):
            raise Invalid(f"{spec.image!r} is not an image name (letters, digits, . _ -).")
        if spec.organisation_id <= 0 or spec.service_id <= 0 or not spec.tenant:
            raise Invalid("A VM belongs to a tenant, an organisation and a service.")
        cloudinit.validate_ssh_keys(spec.ssh_keys)

    def read(self, ref: str) -> Observed[VmSpec]:
        with self.connection() as conn:
            found = self._find(conn, ref)
            if found is None:
                return Observed.of(ref, None)
            state = self._spec_of(found)
            volume = self._volume(conn, ref)
            if volume is not None:  # the disk's real size, not what the metadata says
                state = replace(state, disk_gib=volume.info()[1] // GIB)
            return Observed.of(ref, state, uuid=found.UUIDString())

    def plan(self, spec: VmSpec, observed: Observed[VmSpec]) -> Plan[VmSpec]:
        changes, warnings = diff_vm(spec, observed.state, manages_disks=bool(self.config.pool))
        return self.make_plan(spec, observed, changes, warnings)

    def execute(self, plan: Plan[VmSpec]) -> list[str]:
        # Converges on the plan's spec from whatever is there now, so running it twice (or
        # after a crash half-way) does no harm.
        if plan.destroy:  # a reviewed destroy plan (the site's decommission)
            return self._remove(plan.ref)
        spec = plan.spec
        log: list[str] = []
        with self.connection(write=True) as conn:
            dom = self._find(conn, spec.name)
            if dom is None:
                disk = self._disk(conn, spec, log)
                log.append(self._write_seed(spec))
                dom = conn.defineXML(self._xml(spec, None, disk))
                log.append(f"defined {spec.name} ({dom.UUIDString()})")
            else:
                current = self._spec_of(dom)
                if hardware(current) != hardware(spec) or current.instance_id != spec.instance_id:
                    # vCPUs and memory take a cold boot on qemu; a rebuild a fresh first boot.
                    was_active = bool(dom.isActive())
                    if was_active:
                        log.append(self._power_off(dom))
                    try:
                        rebuild = (current.image, current.instance_id) != (
                            spec.image,
                            spec.instance_id,
                        ) or spec.disk_gib < current.disk_gib
                        disk = self._disk(conn, spec, log, rebuild=rebuild)
                        log.append(self._write_seed(spec))
                        conn.defineXML(self._xml(spec, dom.UUIDString(), disk))
                    except BaseException:
                        if was_active and not dom.isActive():
                            dom.create()  # the change failed: leave the VM as it was found
                        raise
                    log.append(f"redefined {spec.name}: {describe_changes(current, spec)}")
                elif replace(current, power=spec.power) != spec:
                    log.append(self._write_seed(spec))
                    conn.defineXML(self._xml(spec, dom.UUIDString(), self._disk_path(conn, spec)))
                    if dom.isActive():  # the running domain's metadata too, which verify reads
                        dom.setMetadata(
                            libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                            plain_metadata(spec),
                            METADATA_KEY,
                            METADATA_NS,
                            libvirt.VIR_DOMAIN_AFFECT_LIVE,
                        )
                    log.append(f"updated {spec.name}'s seed and metadata")
            log += self._set_power(dom, spec.power)
        return log

    def verify(self, spec: VmSpec) -> list[Check]:
        """Look again through another path: every domain listed on a fresh connection, the
        running domain's live XML (not the stored definition `read` uses) and its state."""
        with self.connection() as conn:
            listed = {d.name(): d for d in conn.listAllDomains()}
            dom = listed.get(spec.name)
            if dom is None:
                return [Check("domain is defined", False, f"{spec.name} is not on {conn.getURI()}")]
            checks = [Check("domain is defined", True, dom.UUIDString())]
            power = _power(dom)
            xml = dom.XMLDesc(0)
            try:
                live = spec_from_domain_xml(xml, power)
            except (Conflict, ProviderError) as exc:
                return [*checks, Check("infrawg metadata", False, str(exc))]
            volume = self._volume(conn, spec.name)
            if volume is not None:  # size and image from the volume itself, not our metadata
                sources = [
                    d.find("source")
                    for d in ET.fromstring(xml).iterfind("devices/disk")  # noqa: S314
                    if d.get("device") == "disk"
                ]
                attached = any(s is not None and s.get("file") == volume.path() for s in sources)
                checks.append(Check("disk volume attached", attached, volume.path()))
                volume_xml = ET.fromstring(volume.XMLDesc())  # noqa: S314 - from libvirt
                backing = volume_xml.findtext("backingStore/path") or ""
                live = replace(
                    live,
                    disk_gib=volume.info()[1] // GIB,
                    image=Path(backing).name.removesuffix(".qcow2"),
                )
        checks.append(Check("power state", power is spec.power, f"is {power}, wants {spec.power}"))
        for label, have, want in (
            ("vcpus", live.vcpus, spec.vcpus),
            ("memory MiB", live.memory_mib, spec.memory_mib),
            ("disk GiB", live.disk_gib, spec.disk_gib),
            ("image", live.image, spec.image),
            ("owner", live.items()["owner"], spec.items()["owner"]),
        ):
            checks.append(Check(label, have == want, f"is {have}, wants {want}"))
        user_data = self.config.seed_directory / spec.name / "user-data"
        seed = self.config.seed_directory / spec.name / "seed.iso"
        checks.append(Check("seed ISO exists", seed.is_file(), str(seed)))
        keys_ok = user_data.is_file() and all(
            " ".join(k.split()[:2]) in user_data.read_text() for k in spec.ssh_keys
        )
        checks.append(Check("seed gives root the tenant's keys", keys_ok, str(user_data)))
        return checks

    def _remove(self, ref: str) -> list[str]:
        """What a destroy (or a reviewed destroy plan) does: stop, undefine, delete the disk
        volume and the seed."""
        log: list[str] = []
        with self.connection(write=True) as conn:
            dom = self._find(conn, ref)
            if dom is not None:
                if dom.isActive():
                    dom.destroy()  # decommissioned: no need to wait for a clean shutdown
                    log.append(f"stopped {ref}")
                dom.undefine()
                log.append(f"undefined {ref}")
            volume = self._volume(conn, ref)
            if volume is not None:
                path = volume.path()
                volume.delete(0)
                log.append(f"deleted the disk {path}")
        seed = self.config.seed_directory / ref
        for name in ("user-data", "meta-data", "seed.iso"):
            (seed / name).unlink(missing_ok=True)
        if seed.is_dir():
            seed.rmdir()
        return log

    def destroy(self, ref: str) -> ApplyResult:
        """Decommission: power off, undefine, delete the disk volume (when a pool is managed)
        and the seed. A final backup, if wanted, is the caller's step before this one."""
        log = self._remove(ref)
        return ApplyResult(
            ref=ref,
            applied=bool(log),
            dry_run=False,
            changes=(Change(Op.DELETE, "domain", ref, None),) if log else (),
            log=tuple(log),
            fingerprint=self.read(ref).fingerprint,
        )

    # -- acts on a running VM ------------------------------------------------------------------

    def suspend(self, ref: str) -> list[str]:
        return self._act(ref, "suspend")

    def resume(self, ref: str) -> list[str]:
        return self._act(ref, "resume")

    def reboot(self, ref: str) -> list[str]:
        return self._act(ref, "reboot")

    def rebuild(self, spec: VmSpec) -> VmSpec:
        """The spec for a fresh install from the image: a new instance id, so cloud-init runs
        again. Plan and apply it like any change (the plan shows a `replace`)."""
        return replace(spec, instance_id=f"{spec.name}-{uuid.uuid4().hex[:12]}")

    def _act(self, ref: str, act: str) -> list[str]:
        with self.connection(write=True) as conn:
            dom = self._find(conn, ref)
            if dom is None:
                raise Invalid(f"There is no VM {ref} on {self.config.uri}.")
            power = _power(dom)
            if act == "suspend" and power is Power.RUNNING:
                dom.suspend()
            elif act == "resume" and power is Power.PAUSED:
                dom.resume()
            elif act == "reboot" and power is Power.RUNNING:
                dom.reboot(0)
            elif (act, power) in (("suspend", Power.PAUSED), ("resume", Power.RUNNING)):
                return [f"{ref} is already {power}"]
            else:
                able = "a paused VM" if act == "resume" else "a running VM"
                raise Invalid(f"{ref} is {power}; only {able} can {act}.")
            return [f"{act}: {ref} is now {_power(dom)}"]

    # -- helpers -----------------------------------------------------------------------------

    def _find(self, conn: libvirt.virConnect, name: str) -> libvirt.virDomain | None:
        try:
            return conn.lookupByName(name)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise ProviderError(f"Looking up {name} on {self.config.uri}: {exc}") from exc

    def _xml(self, spec: VmSpec, uuid_: str | None, disk_path: str | None) -> str:
        return render_domain_xml(
            spec, self.config, uuid_=uuid_, domain_type=self.domain_type, disk_path=disk_path
        )

    # -- disks (when a storage pool is configured) ---------------------------------------------

    def _pool(self, conn: libvirt.virConnect) -> libvirt.virStoragePool | None:
        if not self.config.pool:
            return None
        try:
            pool = conn.storagePoolLookupByName(self.config.pool)
        except libvirt.libvirtError as exc:
            raise ProviderError(f"The storage pool {self.config.pool} is not there: {exc}") from exc
        if not pool.isActive():
            raise ProviderError(f"The storage pool {self.config.pool} is not active.")
        return pool

    def _volume(self, conn: libvirt.virConnect, name: str) -> libvirt.virStorageVol | None:
        pool = self._pool(conn)
        if pool is None:
            return None
        try:
            return pool.storageVolLookupByName(f"{name}.qcow2")
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
                return None
            raise

    def _disk_path(self, conn: libvirt.virConnect, spec: VmSpec) -> str | None:
        volume = self._volume(conn, spec.name)
        return volume.path() if volume is not None else None

    def _disk(
        self, conn: libvirt.virConnect, spec: VmSpec, log: list[str], *, rebuild: bool = False
    ) -> str | None:
        """The VM's disk volume, made (a qcow2 overlay of the image), replaced or grown to the
        spec; its path. None when no pool is configured."""
        pool = self._pool(conn)
        if pool is None:
            return None
        volume = self._volume(conn, spec.name)
        if volume is not None and rebuild:
            path = volume.path()
            volume.delete(0)
            log.append(f"deleted the old disk {path}")
            volume = None
        if volume is None:
            try:
                image = pool.storageVolLookupByName(f"{spec.image}.qcow2")
            except libvirt.libvirtError as exc:
                raise Invalid(
                    f"The image {spec.image} is not in the storage pool {self.config.pool}."
                ) from exc
            volume = pool.createXML(_volume_xml(spec, image.path()), 0)
            log.append(f"created the disk {volume.path()} ({spec.disk_gib} GiB on {spec.image})")
        elif volume.info()[1] < spec.disk_gib * GIB:
            volume.resize(spec.disk_gib * GIB, 0)
            log.append(f"grew the disk {volume.path()} to {spec.disk_gib} GiB")
        return str(volume.path())

    def _spec_of(self, dom: libvirt.virDomain) -> VmSpec:
        return spec_from_domain_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), _power(dom))

    def _write_seed(self, spec: VmSpec) -> str:
        seed = cloudinit.Seed(
            cloudinit.render_user_data(spec.name, spec.fqdn, spec.ssh_keys),
            cloudinit.render_meta_data(spec.instance_id, spec.name),
        )
        return f"wrote the seed {seed.write(self.config.seed_directory / spec.name)}"

    def _power_off(self, dom: libvirt.virDomain) -> str:
        """Ask the guest to power off (ACPI) and wait; a resize needs a cold boot."""
        dom.shutdown()
        deadline = time.monotonic() + self.config.shutdown_timeout
        while dom.isActive():
            if time.monotonic() > deadline:
                raise ProviderError(
                    f"{dom.name()} did not power off within {self.config.shutdown_timeout:.0f} s;"
                    " the change is not made. Try again, or stop it by force."
                )
            time.sleep(0.5)
        return f"powered off {dom.name()}"

    def _set_power(self, dom: libvirt.virDomain, want: Power) -> list[str]:
        have = _power(dom)
        if have is want:
            return []
        if want is Power.SHUTOFF:
            return [self._power_off(dom)]
        if have is Power.SHUTOFF:
            dom.create()
            if want is Power.PAUSED:
                dom.suspend()
        elif want is Power.PAUSED:
            dom.suspend()
        else:
            dom.resume()
        return [f"{dom.name()}: {have} -> {_power(dom)}"]


def _volume_xml(spec: VmSpec, image_path: str) -> str:
    volume = ET.Element("volume")
    ET.SubElement(volume, "name").text = f"{spec.name}.qcow2"
    ET.SubElement(volume, "capacity", unit="GiB").text = str(spec.disk_gib)
    target = ET.SubElement(volume, "target")
    ET.SubElement(target, "format", type="qcow2")
    backing = ET.SubElement(volume, "backingStore")
    ET.SubElement(backing, "path").text = image_path
    ET.SubElement(backing, "format", type="qcow2")
    return ET.tostring(volume, encoding="unicode")


def _quiet(_context: object, _error: object) -> None:
    return None


def _power(dom: libvirt.virDomain) -> Power:
    return _STATES.get(dom.state()[0], Power.SHUTOFF)
