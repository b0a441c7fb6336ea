"""R13 on a real guest: the seed the site writes gives the tenant's key root over SSH.

A Debian 12 guest (tests/vm/image.py, built once with mmdebstrap and cached outside the
repository) boots under QEMU with TCG, not KVM, so the test runs on any x86-64 machine; its SSH
port is forwarded to a loopback port. The NoCloud seed is the site's own: the user-data and
meta-data `cloudinit` renders for a `VmSpec`, on the `cidata` ISO it writes, attached as a
CD-ROM as the libvirt provider attaches it. Nothing here uses the database.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import pytest

from infrawg.provisioning.providers import cloudinit
from infrawg.provisioning.providers.libvirt import VmSpec
from tests.servers.ports import free_port
from tests.servers.process import ServerProcess
from tests.vm.image import GuestImage, guest_image

pytestmark = pytest.mark.slow

# How long a TCG boot may take to answer on SSH; measured on the 2-core test machine (README).
SSH_DEADLINE = 900.0


class Guest(ServerProcess):
    """qemu-system-x86_64 booting `image` with `seed` as its CD-ROM, serial console to a file."""

    STOP_TIMEOUT = 5.0  # SIGTERM makes QEMU quit at once; the disk is a throwaway snapshot

    def __init__(self, image: GuestImage, seed: Path, spec: VmSpec, directory: Path) -> None:
        self.image, self.seed, self.spec, self.directory = image, seed, spec, directory
        self.console = directory / "console.log"
        self.output = directory / "qemu.log"
        self.port = free_port()
        self._process = None
        self.started = 0.0

    def start(self) -> Self:
        argv = [
            "qemu-system-x86_64",
            "-accel",
            "tcg",  # never KVM: the test must not depend on /dev/kvm
            "-cpu",
            "max",
            "-smp",
            str(self.spec.vcpus),
            "-m",
            str(self.spec.memory_mib),
            "-nographic",
            "-monitor",
            "none",
            "-serial",
            f"file:{self.console}",
            "-no-reboot",
            "-kernel",
            str(self.image.kernel),
            "-initrd",
            str(self.image.initrd),
            "-append",
            "root=/dev/vda rw console=ttyS0",
            # snapshot=on: the guest's writes go to a temporary file, the cached image stays.
            "-drive",
            f"file={self.image.root_fs},format=raw,if=virtio,snapshot=on",
            "-drive",
            f"file={self.seed},format=raw,media=cdrom,readonly=on",
            "-netdev",
            f"user,id=net0,hostfwd=tcp:127.0.0.1:{self.port}-:22",
            "-device",
            "virtio-net-pci,netdev=net0",
            "-device",
            "virtio-rng-pci",
        ]
        self.directory.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        with open(self.output, "wb") as output:
            self._process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
            )
        return self

    def console_tail(self, lines: int = 40) -> str:
        text = self.console.read_text(errors="replace") if self.console.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _fail(self, why: str) -> None:
        pytest.fail(
            f"{why} ({time.monotonic() - self.started:.0f} s after QEMU started); "
            f"the serial console ended with:\n{self.console_tail()}"
        )

    def wait_for_sshd(self, deadline: float) -> None:
        """Until sshd's banner comes through the forwarded port (QEMU accepts before it does)."""
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                output = self.output.read_text(errors="replace").strip()[-2000:]
                self._fail(f"QEMU exited {self._process.returncode}: {output}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
                    conn.settimeout(10)
                    if conn.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self._fail(f"no SSH banner on 127.0.0.1:{self.port} within {SSH_DEADLINE:.0f} s")
            time.sleep(3)

    def ssh(self, key: Path | None, command: str, *options: str) -> subprocess.CompletedProcess:
        argv = ["ssh", "-F", "/dev/null", "-p", str(self.port), "-o", "BatchMode=yes"]
        argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        argv += ["-o", "ConnectTimeout=30", "-o", "LogLevel=ERROR"]
        if key is not None:
            argv += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
        argv += [*options, "root@127.0.0.1", command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)

    def ssh_as_root(self, key: Path, command: str, deadline: float) -> str:
        """`command`'s output over SSH with `key`, retried while first boot may still be
        writing root's authorized_keys (sshd can answer before cloud-init is done)."""
        while True:
            result = self.ssh(key, command)
            if result.returncode == 0:
                return result.stdout
            if time.monotonic() > deadline:
                self._fail(f"the tenant's key did not log in as root: {result.stderr.strip()}")
            time.sleep(5)


@pytest.fixture
def tenant_key(tmp_path: Path) -> Path:
    """The tenant's key pair, made the way a tenant makes one."""
    key = tmp_path / "tenant_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ada@tenant.example", "-f", key],
        check=True,
    )
    return key


@pytest.fixture
def vm(tenant_key: Path) -> VmSpec:
    return VmSpec(
        name="web1",
        vcpus=2,
        memory_mib=1024,
        disk_gib=10,
        image="debian-12",
        ssh_keys=(tenant_key.with_suffix(".pub").read_text(),),
        tenant="Example Tenant Ltd",
        organisation_id=7,
        service_id=42,
        domain="vms.infrawg.test",
    )


@pytest.fixture
def seed(vm: VmSpec, tmp_path: Path) -> cloudinit.Seed:
    # As the libvirt provider writes it for the VM kind.
    return cloudinit.Seed(
        cloudinit.render_user_data(vm.name, vm.fqdn, vm.ssh_keys),
        cloudinit.render_meta_data(vm.instance_id, vm.name),
    )


@pytest.fixture
def guest(vm: VmSpec, seed: cloudinit.Seed, tmp_path: Path) -> Iterator[Guest]:
    image = guest_image()
    iso = seed.write(tmp_path / "seed")
    with Guest(image, iso, vm, tmp_path / "guest") as booted:
        yield booted


def test_r13_tenants_key_logs_in_as_root_on_a_real_guest(
    guest: Guest, seed: cloudinit.Seed, tenant_key: Path
) -> None:
    assert cloudinit.schema_problems(seed.user_data) == []
    deadline = guest.started + SSH_DEADLINE

    guest.wait_for_sshd(deadline)
    uid, hostname, password = guest.ssh_as_root(
        # cloud-init turns password login off in its config stage, after sshd is up: wait.
        tenant_key,
        "cloud-init status --wait >/dev/null; id -u; hostname; passwd -S root | cut -d' ' -f2",
        deadline,
    ).split()

    assert (uid, hostname) == ("0", guest.spec.name)
    assert password == "L"  # root's password is locked
    # sshd offers no password (nor keyboard-interactive) login: only keys. cloud-init has just
    # restarted sshd with that setting; wait for it to answer again.
    guest.wait_for_sshd(deadline)
    refused = guest.ssh(
        None,
        "true",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
    )
    assert refused.returncode == 255
    assert "Permission denied (publickey)" in refused.stderr
