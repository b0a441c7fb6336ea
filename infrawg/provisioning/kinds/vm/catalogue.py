"""The sizes and images a VM request offers (R13), from the site's configuration.

VM_SIZES maps a size's key to its label, vCPUs, memory (MiB) and disk (GiB); VM_IMAGES maps a
release's key to its label and the libvirt image volume it boots. How many VMs the site takes
is the service type's capacity (R9), which the chair sets in the catalogue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import current_app

from infrawg.errors import Invalid

DEFAULT_SIZES: dict[str, dict[str, Any]] = {
    "small": {"label": "Small", "vcpus": 1, "memory_mib": 1024, "disk_gib": 10},
    "medium": {"label": "Medium", "vcpus": 2, "memory_mib": 4096, "disk_gib": 40},
    "large": {"label": "Large", "vcpus": 4, "memory_mib": 8192, "disk_gib": 80},
}
DEFAULT_IMAGES: dict[str, dict[str, str]] = {
    "debian-12": {"label": "Debian 12 (bookworm)", "image": "debian-12-genericcloud-amd64"},
}


@dataclass(frozen=True)
class Size:
    key: str
    label: str
    vcpus: int
    memory_mib: int
    disk_gib: int

    @property
    def description(self) -> str:
        return f"{self.label}: {self.vcpus} vCPU, {self.memory_mib} MiB, {self.disk_gib} GiB"


@dataclass(frozen=True)
class Image:
    key: str
    label: str
    image: str


def setting(name: str, default: Any = None) -> Any:
    """A VM setting: a mapping, or JSON text (as INFRAWG_* settings from the environment)."""
    value = current_app.config.get(name) or default
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise Invalid(f"INFRAWG_{name} is not valid JSON: {exc}") from exc
    return value


def sizes() -> dict[str, Size]:
    configured = setting("VM_SIZES", DEFAULT_SIZES)
    return {
        key: Size(
            key,
            str(v.get("label", key)),
            int(v["vcpus"]),
            int(v["memory_mib"]),
            int(v["disk_gib"]),
        )
        for key, v in configured.items()
    }


def images() -> dict[str, Image]:
    configured = setting("VM_IMAGES", DEFAULT_IMAGES)
    return {
        key: Image(key, str(v.get("label", key)), str(v["image"])) for key, v in configured.items()
    }


def size(key: str) -> Size:
    found = sizes().get(str(key or ""))
    if found is None:
        raise Invalid("Choose one of the sizes offered.", field="size")
    return found


def image(key: str) -> Image:
    found = images().get(str(key or ""))
    if found is None:
        raise Invalid("Choose one of the distributions offered.", field="image")
    return found
