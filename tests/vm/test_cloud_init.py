"""The NoCloud seed (R13: the tenant gets root): checked by Debian's cloud-init itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from infrawg.errors import Invalid
from infrawg.provisioning.providers import cloudinit


def test_r13_cloud_init_gives_root_the_tenants_keys(tenant_keys: tuple[str, str]) -> None:
    text = cloudinit.render_user_data("web1", "web1.vms.infrawg.test", tenant_keys)

    assert text.startswith("#cloud-config\n")
    assert cloudinit.schema_problems(text) == []
    config = yaml.safe_load(text)
    assert config["hostname"] == "web1" and config["fqdn"] == "web1.vms.infrawg.test"
    assert config["disable_root"] is False
    assert config["ssh_pwauth"] is False  # no password login over SSH
    [root] = config["users"]  # root only: no default user besides it
    assert root["name"] == "root" and root["lock_passwd"] is True
    assert root["ssh_authorized_keys"] == list(tenant_keys)
    assert set(root) == {"name", "lock_passwd", "ssh_authorized_keys"}  # no password set
    assert config["chpasswd"] == {"expire": False}  # and none handed out


def test_cloud_init_schema_check_reports_a_broken_config() -> None:
    problems = cloudinit.schema_problems("#cloud-config\nhostname: 5\nusers: 3\n")
    assert any("hostname" in p for p in problems)


def test_the_seed_is_a_cidata_volume_with_both_files(
    tmp_path: Path, tenant_keys: tuple[str, str]
) -> None:
    seed = cloudinit.Seed(
        cloudinit.render_user_data("web1", "web1", tenant_keys),
        cloudinit.render_meta_data("web1-1", "web1"),
    )
    iso = seed.write(tmp_path / "seed")

    info = subprocess.run(
        ["isoinfo", "-d", "-i", str(iso)], capture_output=True, text=True, check=True
    ).stdout
    assert "Volume id: cidata" in info
    listing = subprocess.run(
        ["isoinfo", "-R", "-f", "-i", str(iso)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert sorted(listing) == ["/meta-data", "/user-data"]
    user_data = subprocess.run(
        ["isoinfo", "-R", "-x", "/user-data", "-i", str(iso)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert user_data == seed.user_data
    assert yaml.safe_load(seed.meta_data) == {"instance-id": "web1-1", "local-hostname": "web1"}


def _private_pem() -> str:
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode()
    )


def _short_rsa() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    public = key.public_key()
    return public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (_private_pem(), "This is a private key"),
        (_short_rsa(), "1024 bits; at least 2048"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB", "not valid base64"),
        ("ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x", "does not match its type"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== x", "damaged or incomplete"),
        ('from="10.0.0.1" ssh-ed25519 AAAA x', "options"),
        ("hello world", "not an SSH public key type"),
        ("ssh-ed25519", "no key data"),
    ],
)
def test_r13_invalid_ssh_key_refused(line: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        cloudinit.validate_ssh_key(line)
    with pytest.raises(Invalid, match=f"SSH key 1: .*{message}"):
        cloudinit.render_user_data("web1", "web1", [line])


def test_r13_no_keys_no_vm() -> None:
    with pytest.raises(Invalid, match="at least one SSH public key"):
        cloudinit.render_user_data("web1", "web1", ["", "# a comment"])


def test_duplicate_keys_are_given_once(tenant_keys: tuple[str, str]) -> None:
    again = tenant_keys[0].rsplit(" ", 1)[0] + " same-key-other-comment"
    assert cloudinit.validate_ssh_keys([*tenant_keys, again]) == tenant_keys
    assert cloudinit.key_fingerprint(tenant_keys[0]).startswith("SHA256:")


def test_a_hostname_is_one_dns_label() -> None:
    with pytest.raises(Invalid, match="not a usable hostname"):
        cloudinit.validate_hostname("web_1.example")
