"""The audit trail's vocabulary is closed: every action is a member of ``Action``, and
every member has a visibility in the policy module. A new kind of event that nobody placed
fails here, long before its events would be shown to staff only (the fail-closed default).
"""

from __future__ import annotations

import ast
from pathlib import Path

import infrawg
from infrawg.actions import Action
from infrawg.policy import audit as policy

PACKAGE = Path(infrawg.__file__).parent


def test_every_action_has_a_visibility_in_the_policy_module():
    assert sorted(set(Action) - policy.AUDIT_VISIBILITY.keys()) == []


def _free_strings() -> list[str]:
    """``audit.record`` calls whose action is a string or an f-string, not an ``Action``."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for call in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "record"
                and isinstance(call.func.value, ast.Name)
                and call.func.value.id == "audit"
                and len(call.args) > 1
            ):
                continue
            action = call.args[1]
            branches = [action.body, action.orelse] if isinstance(action, ast.IfExp) else [action]
            if any(isinstance(b, ast.Constant | ast.JoinedStr) for b in branches):
                found.append(f"{path.relative_to(PACKAGE)}:{call.lineno}")
    return found


def test_every_audit_call_records_a_member_of_the_vocabulary():
    assert _free_strings() == []


def test_computed_actions_are_members_of_the_vocabulary():
    # The actions some calls compute (a role's end, a CO decision, a visibility change).
    for role in ("staff", "chair", "board"):
        assert Action(f"{role}.ended") in policy.AUDIT_VISIBILITY
    for side in ("chair", "board"):
        for decision in ("approved", "declined"):
            assert Action(f"co_application.{side}_{decision}") in policy.AUDIT_VISIBILITY
    for level in ("public", "members", "staff"):
        assert Action(f"archive.list_visibility.{level}") in policy.AUDIT_VISIBILITY
    for level in ("public", "members", "staff", "inherit"):
        assert Action(f"archive.thread_visibility.{level}") in policy.AUDIT_VISIBILITY
