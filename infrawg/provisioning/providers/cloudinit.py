"""The cloud-init NoCloud seed a VM boots with: the tenant gets root through their SSH keys (R13).

The seed is two small YAML files, `user-data` (a `#cloud-config`) and `meta-data`, on an ISO 9660
volume labelled `cidata`, attached to the domain as a CD-ROM. cloud-init in the guest reads it
on first boot (once per `instance-id`; a rebuild gives a new one so it runs again).

What the user-data says: the hostname and FQDN; root keeps its account (`disable_root: false`)
and gets the tenant's keys; no password logins anywhere (`ssh_pwauth: false`, root's password
locked). Keys are checked here with `cryptography`, so a pasted private key or a truncated line
is refused with a message instead of producing a VM nobody can log in to.
"""

from __future__ import annotations

import base64
import binascii
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key

from infrawg.errors import Invalid
from infrawg.provisioning.base import ProviderError

__all__ = [
    "MIN_RSA_BITS",
    "Seed",
    "build_seed_iso",
    "key_fingerprint",
    "render_meta_data",
    "render_user_data",
    "schema_problems",
    "validate_hostname",
    "validate_ssh_key",
    "validate_ssh_keys",
]

MIN_RSA_BITS = 2048
KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_COMMENT = re.compile(r"^[\x20-\x7e]{0,200}$")


# -- SSH keys ------------------------------------------------------------------------------------


def validate_ssh_key(line: str) -> str:
    """One public key in authorized_keys form (`type base64 [comment]`), canonicalised.

    Raises Invalid saying what is wrong: a private key, key options, an unknown type, a
    damaged key, DSA or short RSA keys. The comment is kept (it tells people which key is whose).
    """
    text = line.strip()
    if not text:
        raise Invalid("An SSH key line is empty.")
    if "PRIVATE KEY" in text:
        raise Invalid(
            "This is a private key. Paste the public key instead (the .pub file, one line "
            "starting with ssh-ed25519 or ssh-rsa), and keep the private key to yourself."
        )
    parts = text.split(None, 2)
    if parts[0] not in KEY_TYPES:
        if any(parts[0].startswith(p) for p in ("from=", "command=", "no-", "restrict")):
            raise Invalid("SSH key options (from=, command=, ...) are not accepted here.")
        raise Invalid(
            f"{parts[0][:40]!r} is not an SSH public key type; a key line starts with one of "
            f"{', '.join(KEY_TYPES[:3])}."
        )
    if len(parts) < 2:
        raise Invalid(f"The {parts[0]} key has no key data after its type.")
    kind, blob = parts[0], parts[1]
    comment = parts[2].strip() if len(parts) == 3 else ""
    if not _COMMENT.match(comment):
        raise Invalid("An SSH key's comment must be printable ASCII, at most 200 characters.")
    try:
        decoded = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Invalid(f"The {kind} key data is not valid base64 (copied only in part?).") from exc
    if not decoded.startswith(len(kind).to_bytes(4, "big") + kind.encode()):
        raise Invalid(f"The key data does not match its type {kind} (mixed-up lines?).")
    if not kind.startswith("sk-"):  # cryptography does not load FIDO (sk-) keys; checked above
        try:
            key = load_ssh_public_key(f"{kind} {blob}".encode())
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise Invalid(f"The {kind} key is damaged or incomplete: {exc}") from exc
        if isinstance(key, dsa.DSAPublicKey):
            raise Invalid("DSA keys are no longer accepted by OpenSSH; use an Ed25519 key.")
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
            raise Invalid(
                f"This RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed "
                "(or use an Ed25519 key)."
            )
    return f"{kind} {blob} {comment}".rstrip()


def validate_ssh_keys(lines: Iterable[str]) -> tuple[str, ...]:
    """Every key validated, duplicates (same key data) dropped; at least one is required."""
    keys: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            key = validate_ssh_key(line)
        except Invalid as exc:
            raise Invalid(f"SSH key {number}: {exc}") from exc
        keys.setdefault(" ".join(key.split()[:2]), key)
    if not keys:
        raise Invalid("Give at least one SSH public key: it is the only way to log in as root.")
    return tuple(keys.values())


def key_fingerprint(line: str) -> str:
    """OpenSSH's SHA256 fingerprint of a key line (`SHA256:...`), for pages and logs."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(base64.b64decode(line.split()[1]))
    return "SHA256:" + base64.b64encode(digest.finalize()).decode().rstrip("=")


def validate_hostname(name: str) -> str:
    """A single DNS label (the VM's hostname), lower-case."""
    label = name.strip().lower()
    if not _LABEL.match(label):
        raise Invalid(
            f"{name!r} is not a usable hostname: use 1 to 63 letters, digits or hyphens, "
            "not starting or ending with a hyphen."
        )
    return label


# -- the seed ------------------------------------------------------------------------------------


def render_user_data(hostname: str, fqdn: str, ssh_keys: Sequence[str]) -> str:
    """The `#cloud-config` that gives root the tenant's keys and allows no password login."""
    config = {
        "hostname": validate_hostname(hostname),
        "fqdn": fqdn,
        "prefer_fqdn_over_hostname": False,
        "manage_etc_hosts": True,
        # R13: the tenant gets root. cloud-init would otherwise prefix root's keys with a
        # "log in as the default user" command.
        "disable_root": False,
        "ssh_pwauth": False,
        "chpasswd": {"expire": False},
        # Only root: no distribution default user with sudo that nobody asked for.
        "users": [
            {
                "name": "root",
                "lock_passwd": True,
                "ssh_authorized_keys": list(validate_ssh_keys(ssh_keys)),
            }
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def render_meta_data(instance_id: str, hostname: str) -> str:
    """NoCloud meta-data: a new `instance-id` makes cloud-init run again (a rebuild)."""
    return yaml.safe_dump(
        {"instance-id": instance_id, "local-hostname": validate_hostname(hostname)},
        sort_keys=False,
    )


@dataclass(frozen=True)
class Seed:
    """A rendered seed: the two files' text; `write` puts them and the ISO in a directory."""

    user_data: str
    meta_data: str

    def write(self, directory: Path) -> Path:
        """Write user-data, meta-data and `seed.iso` into `directory`; return the ISO's path."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o750)
        (directory / "user-data").write_text(self.user_data)
        (directory / "meta-data").write_text(self.meta_data)
        return build_seed_iso(directory, directory / "seed.iso")


def build_seed_iso(source: Path, output: Path) -> Path:
    """An ISO 9660 volume `cidata` holding `source`'s user-data and meta-data.

    Uses Debian's genisoimage, else xorriso (as mkisofs), else cloud-localds
    (cloud-image-utils); written beside `output` then renamed, so a domain never sees half a seed.
    """
    files = [str(source / "user-data"), str(source / "meta-data")]
    fd, tmp_name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    tmp = Path(tmp_name)
    try:
        with open(fd, "wb"):
            pass
        if tool := shutil.which("genisoimage"):
            argv = [tool, "-quiet", "-output", tmp_name, "-volid", "cidata", "-joliet", "-rock"]
            argv += files
        elif tool := shutil.which("xorriso"):
            argv = [tool, "-as", "mkisofs", "-quiet", "-output", tmp_name, "-volid", "cidata"]
            argv += ["-joliet", "-rock", *files]
        elif tool := shutil.which("cloud-localds"):
            argv = [tool, tmp_name, *files]
        else:
            raise ProviderError(
                "No tool to build a cloud-init seed: install genisoimage, xorriso or "
                "cloud-image-utils."
            )
        result = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise ProviderError(f"{Path(tool).name} failed: {result.stderr.strip()[-500:]}")
        tmp.chmod(0o644)  # the hypervisor (another user) reads it
        tmp.replace(output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return output


def schema_problems(user_data: str, cloud_init: str = "cloud-init") -> list[str]:
    """What `cloud-init schema --config-file` finds wrong with `user_data` (empty: valid).

    Needs Debian's cloud-init on the host; raises ProviderError when it is not installed.
    """
    tool = shutil.which(cloud_init)
    if tool is None:
        raise ProviderError("cloud-init is not installed here; it checks the user-data schema.")
    with tempfile.TemporaryDirectory(prefix="infrawg-cloud-config-") as tmp:
        path = Path(tmp) / "user-data"
        path.write_text(user_data)
        result = subprocess.run(  # noqa: S603 - our file, a fixed tool
            [tool, "schema", "--config-file", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode == 0 and "deprecat" not in (result.stdout + result.stderr).lower():
        return []
    text = (result.stdout + "\n" + result.stderr).strip()
    return [line.strip() for line in text.splitlines() if line.strip()] or [
        f"cloud-init schema exited {result.returncode}"
    ]
