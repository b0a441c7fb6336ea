"""The Debian 12 guest the real-boot test starts under QEMU, built once with mmdebstrap.

The image is three files: a raw ext4 root filesystem made with `mke2fs -d` straight from the
mmdebstrap tree (no loop mount), and the tree's kernel and initrd, which QEMU boots directly
(`-kernel`/`-initrd`, `root=/dev/vda`), so the guest needs no boot loader. It lives outside the
repository, under `${XDG_CACHE_HOME:-~/.cache}/infrawg/vm-images/<hash of the recipe>/`: a
changed recipe gets a new directory, and a build is assembled beside it and renamed into place,
so an interrupted build never leaves half an image. Building needs root (mmdebstrap's root
mode) and the network (deb.debian.org).

`python -m tests.vm.image` builds it (if needed) and prints where it is and how long the build
took.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# Besides the essential set: a kernel (its initramfs-tools makes the initrd), systemd as init
# with udev (networkd waits for it) and dbus (hostnamectl, which cloud-init sets the hostname
# with), cloud-init, sshd, and passwd (cloud-init locks root's password with it). Networking is
# systemd-networkd (part of systemd): DHCP on QEMU's user-mode network.
PACKAGES = (
    "linux-image-amd64",
    "systemd-sysv",
    "udev",
    "dbus",
    "passwd",
    "openssh-server",
    "cloud-init",
)
# Run in the tree after the packages are in, before it becomes a filesystem.
CUSTOMIZE = r"""
set -e
root="$1"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' > "$root/etc/fstab"
printf 'localhost\n' > "$root/etc/hostname"
: > "$root/etc/machine-id"
cat > "$root/etc/systemd/network/80-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOF
chroot "$root" systemctl enable systemd-networkd.service
# The seed is the only datasource: ds-identify and cloud-init need not probe for clouds.
printf 'datasource_list: [NoCloud, None]\n' > "$root/etc/cloud/cloud.cfg.d/90-infrawg-test.cfg"
rm -f "$root"/etc/ssh/ssh_host_*
"""
RECIPE_VERSION = 1  # bump for a change the text above does not show (e.g. in build())


def recipe() -> str:
    """Everything that decides the image's content; its hash names the cache directory."""
    return json.dumps(
        {
            "version": RECIPE_VERSION,
            "suite": SUITE,
            "mirror": MIRROR,
            "packages": PACKAGES,
            "customize": CUSTOMIZE,
        },
        sort_keys=True,
    )


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "infrawg" / "vm-images"


@dataclass(frozen=True)
class GuestImage:
    """A built image: the root filesystem, kernel and initrd, and how long the build took."""

    directory: Path
    build_seconds: float

    @property
    def root_fs(self) -> Path:
        return self.directory / "root.ext4"

    @property
    def kernel(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.img"


class ImageBuildError(RuntimeError):
    """mmdebstrap or mke2fs failed; the message ends with the tool's output."""


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-4000:]
        raise ImageBuildError(f"{argv[0]} exited {result.returncode}:\n{output}")


def _remove(work: Path) -> None:
    """Delete a build directory, unless something is still mounted inside it: mmdebstrap
    mounts /proc, /sys and /dev in the tree, and a build killed by force may leave them."""
    inside = str(work.resolve()) + "/"
    with open("/proc/self/mounts") as mounts:
        held = [line.split()[1] for line in mounts if line.split()[1].startswith(inside)]
    if held:
        raise ImageBuildError(f"Not removing {work}: unmount {' '.join(held)} first.")
    shutil.rmtree(work, ignore_errors=True)


def _build(work: Path) -> None:
    """mmdebstrap a tree into `work/tree`, then the three files beside it; the tree goes."""
    tree = work / "tree"
    hook = work / "customize.sh"
    hook.write_text(CUSTOMIZE)
    _run(
        [
            "mmdebstrap",
            "--mode=root",
            "--variant=apt",
            "--quiet",
            f"--include={','.join(PACKAGES)}",
            f'--customize-hook=sh {hook} "$1"',
            SUITE,
            str(tree),
            MIRROR,
        ]
    )
    [kernel] = sorted((tree / "boot").glob("vmlinuz-*"))
    initrd = tree / "boot" / kernel.name.replace("vmlinuz-", "initrd.img-")
    shutil.copyfile(kernel, work / "vmlinuz")
    shutil.copyfile(initrd, work / "initrd.img")
    used = sum(p.lstat().st_size for p in tree.rglob("*"))
    size_mib = used * 3 // 2 // 2**20 + 512  # room for first-boot writes (logs, host keys)
    _run(
        [
            "mke2fs",
            "-q",
            "-F",
            "-t",
            "ext4",
            "-L",
            "root",
            "-d",
            str(tree),
            str(work / "root.ext4"),
            f"{size_mib}M",
        ]
    )
    shutil.rmtree(tree)
    hook.unlink()


def guest_image() -> GuestImage:
    """The cached image for the current recipe, built first if there is none."""
    digest = hashlib.sha256(recipe().encode()).hexdigest()[:16]
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    final = root / digest
    # One build at a time (two test runs starting together); the second finds it done.
    with open(root / f".{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / "image.json").exists():
            for stale in root.glob(f".build-{digest}-*"):  # a build killed before its rename
                _remove(stale)
            work = Path(tempfile.mkdtemp(dir=root, prefix=f".build-{digest}-"))
            try:
                started = time.monotonic()
                _build(work)
                (work / "recipe.json").write_text(recipe())
                seconds = round(time.monotonic() - started, 1)
                (work / "image.json").write_text(json.dumps({"build_seconds": seconds}))
                work.chmod(0o755)
                work.rename(final)
            finally:
                if work.exists():  # the build failed before its rename
                    _remove(work)
    meta = json.loads((final / "image.json").read_text())
    return GuestImage(final, meta["build_seconds"])


if __name__ == "__main__":
    image = guest_image()
    print(f"{image.directory} (built in {image.build_seconds:.0f} s)")
