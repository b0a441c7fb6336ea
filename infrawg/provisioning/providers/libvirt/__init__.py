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

Not built yet: creating the disk volume from the image (a qcow2 overlay in a storage pool) and
growing it; the disk's path and size are rendered and recorded, and a change of disk or image
is planned as a rebuild (`replace`).
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
