"""The README's "Adding a provider" and "Adding a kind of service" stay true: their code blocks
run as written, and every dotted name and every method they tell a newcomer about exists."""

from __future__ import annotations

import importlib
import re
import sys
import types
from pathlib import Path

import pytest

from infrawg.provisioning import kinds
from infrawg.provisioning.base import Provider, Spec
from infrawg.provisioning.kinds.dns.names import parse_rrset
from infrawg.provisioning.kinds.dns.spec import ZoneSpec
from infrawg.registry import verify_class

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# Entry-point groups our pyproject.toml declares (a dotted name that is a group, not a module).
GROUPS = set(
    re.findall(
        r'^\[project\.entry-points\."([^"]+)"\]', (ROOT / "pyproject.toml").read_text(), re.M
    )
)


def section(title: str) -> str:
    # Up to the next heading (a "# file.py" comment inside a code block is not one).
    return re.split(r"\n#{2,4} ", README.split(f"#### {title}\n", 1)[1], maxsplit=1)[0]


def code_block(text: str) -> str:
    return text.split("```python\n", 1)[1].split("```", 1)[0]


def load(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses look their module up
    try:
        exec(compile(source, f"README:{name}", "exec"), module.__dict__)  # noqa: S102
    finally:
        sys.modules.pop(name, None)
    return module


def dotted_names(text: str) -> set[str]:
    return set(re.findall(r"`(infrawg(?:\.\w+)+)`", text))


def resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ImportError(dotted)


@pytest.mark.parametrize("title", ["Adding a provider", "Adding a kind of service"])
def test_every_dotted_name_in_the_section_exists(title: str) -> None:
    names = dotted_names(section(title))
    assert names, "the section names no module"
    for name in names:
        if name in ("infrawg.providers", "infrawg.kinds"):
            assert name in GROUPS, f"{name} is not an entry-point group of pyproject.toml"
        else:
            resolve(name)


def test_the_provider_section_methods_are_the_interface() -> None:
    text = section("Adding a provider")
    for method in ("read", "execute", "verify", "validate", "plan", "plan_destroy", "apply"):
        assert f"`{method}`" in text
        assert callable(getattr(Provider, method))
    # What it says a provider implements is exactly what is still abstract.
    assert Provider.__abstractmethods__ == {"read", "execute", "verify"}


def test_the_readmes_provider_runs_plan_apply_verify_and_destroy(tmp_path) -> None:
    module = load("jsonzones", code_block(section("Adding a provider")))
    assert verify_class(Provider, module.JsonZones, factory=None) == []
    provider = module.JsonZones(module.JsonZonesConfig(directory=tmp_path))
    zone = "readme.example."
    spec = ZoneSpec(
        zone,
        (
            parse_rrset("@", "NS", 300, ["ns1.example.net."], zone),
            parse_rrset("www", "A", 300, ["192.0.2.1"], zone),
        ),
    )
    plan = provider.plan_for(spec)
    assert [c.op.value for c in plan.changes] == ["create", "create"]
    assert provider.apply(plan).applied
    assert provider.plan_for(spec).empty
    assert all(check.ok for check in provider.verify(spec))
    assert provider.destroy(zone).applied
    assert provider.read(zone).state is None


def test_the_readmes_kind_registers_and_answers_for_its_services() -> None:
    text = section("Adding a kind of service")
    for method in ("parameters", "spec_of", "suspended_spec", "provision", "panel_context"):
        assert f"`{method}`" in text
        assert callable(getattr(kinds.Kind, method))
    module = load("buckets", code_block(text))
    assert isinstance(module.BUCKET, kinds.Kind)
    assert issubclass(module.BucketSpec, Spec)
    kinds.register(module.BUCKET)
    try:
        assert kinds.get("bucket") is module.BUCKET
        name, stored = module.BUCKET.parameters({"bucket": "assets", "size": "3"})
        assert (name, stored) == ("assets", {"bucket": "assets", "size": 3})
        service = types.SimpleNamespace(name=name, parameters=stored)
        spec = module.BUCKET.spec_of(service)
        assert spec.ref == "assets" and spec.items() == {"size": 3}
        assert module.BUCKET.suspended_spec(service) is None  # keeps what it holds
    finally:
        kinds.unregister("bucket")
