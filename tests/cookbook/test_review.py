"""A version as staff review it (R14): its diff, every check and the configuration previews."""

from __future__ import annotations

import dataclasses

from infrawg.provisioning.providers.cookbook import AppSpec, Attribute, review


def test_r14_a_version_is_reviewed_with_its_diff_checks_and_previews(spec: AppSpec) -> None:
    first = review(spec)
    assert first.previous is None and first.passed, first.failures
    assert "--- /dev/null\n+++ 1.0.0/recipes/default.rb" in first.diff  # everything is new

    newer = dataclasses.replace(
        spec, version="1.1.0", attributes=(Attribute("port", 9090), spec.attribute("greeting"))
    )
    second = review(newer, spec)

    assert second.previous == "1.0.0" and second.passed, second.failures
    assert "+default['hello_app']['port'] = 9090" in second.diff.splitlines()
    assert second.previews["/etc/hello/hello.conf"] == "port = 9090\ngreeting = hello, world\n"
    assert {r.check for r in second.results} >= {"RuboCop", "static cookbook check"}
