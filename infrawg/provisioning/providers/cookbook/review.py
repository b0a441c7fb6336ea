"""What staff review for one version of an application (R14): the diff from the version before,
every check's results and a preview of each configuration file, computed from the specs alone
(generation is deterministic, so a stored spec is enough to show any version again)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from infrawg.provisioning.providers.cookbook.checks import (
    TOOLS,
    CheckResult,
    Tools,
    check_cookbook,
    previews,
    static_check,
)
from infrawg.provisioning.providers.cookbook.generator import diff_versions, generate
from infrawg.provisioning.providers.cookbook.spec import AppSpec

__all__ = ["VersionReview", "review"]


@dataclass(frozen=True)
class VersionReview:
    """One version as staff see it before they approve it or ask for changes."""

    name: str
    version: str
    previous: str | None
    files: Mapping[str, str]
    diff: str
    results: tuple[CheckResult, ...]
    previews: Mapping[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Every check held (the review may still ask for changes; R14 is staff's call)."""
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.passed)


def review(spec: AppSpec, previous: AppSpec | None = None, tools: Tools = TOOLS) -> VersionReview:
    """Generate `spec`'s cookbook, diff it against `previous` (None for a first version: every
    file is new), and run every check on it."""
    files = generate(spec)
    before = generate(previous) if previous is not None else {}
    old_label = previous.version if previous is not None else "none"
    report = static_check(files, tools)
    results = check_cookbook(files, tools, expected_name=spec.name, report=report)
    return VersionReview(
        name=spec.name,
        version=spec.version,
        previous=previous.version if previous is not None else None,
        files=files,
        diff=diff_versions(before, files, old_label, spec.version),
        results=tuple(results),
        previews=previews(files, report),
    )
