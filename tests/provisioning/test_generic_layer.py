"""The service layer's generic code never names a kind: it looks kinds up by name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "infrawg" / "provisioning"
# The generic modules: everything but the kinds' folders, the providers (each implements one
# kind) and the demo data (which asks for the built-in DNS kind, as a person would).
GENERIC = sorted(
    path
    for path in [*PACKAGE.glob("*.py"), PACKAGE / "kinds" / "__init__.py"]
    if path.name != "demo.py"
)


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_generic_code_imports_no_kind_and_names_none(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert not node.module.startswith("infrawg.provisioning.kinds."), node.module
            assert not node.module.startswith("infrawg.provisioning.providers"), node.module
        if isinstance(node, ast.Compare):
            constants = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant)]
            assert "dns" not in constants, f"{path.name}:{node.lineno} compares with 'dns'"
