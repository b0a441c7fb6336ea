"""The VM kind (R13): a server from the catalogue, on libvirt, backed up with restic.

A tenant member asks for a size (the site's VM_SIZES), an image (VM_IMAGES: one per release
the chair lists), a hostname and the tenant's SSH public keys; the chair approves (R9: the
service type's capacity); the libvirt provider defines and starts the domain with a cloud-init
seed giving root those keys. Each VM gets a backup policy (`VmBackup`) with it; the scheduled
jobs in `backups.py` run the restic engine against the organisation's repository.

libvirt-python is optional (the `vm` extra): nothing here imports `libvirt` at module level.
"""
