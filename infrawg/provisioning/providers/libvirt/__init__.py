"""Virtual machines on libvirt (R13): a domain per VM, booted with a cloud-init NoCloud seed.

The domain's XML is rendered here from a typed `VmSpec`; its `<metadata>` carries, in the
infrawg namespace, whose VM it is (tenant, organisation, service), the image and disk size it
was built from and the tenant's keys, so `read` turns any domain back into the spec that made
it and `plan` is a plain diff of two specs.

The URI is configuration: `qemu:///system`, `qemu+ssh://host/system`, or in tests and
development `test:///path/node.xml`, libvirt's in-process test driver loaded from a node file.
The test driver keeps its state in the connection's memory only, so for a `test:///` URI with
a file this provider writes the node file back after every change (under a lock, renamed into
place): every process and every new connection then sees the same hypervisor, as they would
with libvirtd.

Disks: with `pool` set, each VM's disk is a volume `<name>.qcow2` in that storage pool, a
qcow2 overlay of the image volume `<image>.qcow2`; a bigger disk is grown in place (an
update), a smaller one or another image is a rebuild (a replace: the disk starts afresh).
`read` and `verify` take the disk's size and image from the volume itself. Without a pool the
disk's path is rendered and its size recorded only. libvirt's test driver makes overlays but
cannot resize volumes; growing is exercised for real only by the QEMU boot test (not built).
"""

from infrawg.provisioning.providers.libvirt.domainxml import (
    METADATA_NS,
    render_domain_xml,
    spec_from_domain_xml,
)
from infrawg.provisioning.providers.libvirt.provider import LibvirtProvider
from infrawg.provisioning.providers.libvirt.spec import LibvirtConfig, Power, VmSpec, diff_vm

__all__ = [
    "METADATA_NS",
    "LibvirtConfig",
    "LibvirtProvider",
    "Power",
    "VmSpec",
    "diff_vm",
    "render_domain_xml",
    "spec_from_domain_xml",
]
