"""VMs and their backups (R13): cloud-init seeds, libvirt's test driver, Debian's restic.

Not here yet: the one slow real boot (QEMU with TCG, no KVM on CI). It needs qemu-system-x86
and qemu-utils, a Debian cloud image built locally from Debian's packages (mmdebstrap with
cloud-init and openssh-server into a qcow2), the provider creating the disk as a qcow2 overlay
of that image (not built), a `qemu:///session` URI or libvirtd, user-mode networking with an
SSH port forward, and a test logging in as root with the tenant's key within a few minutes.
"""
