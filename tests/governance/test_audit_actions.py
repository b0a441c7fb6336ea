"""Every action the code records has a visibility in the policy module (surveyed, not
guessed): a new ``audit.record`` call with an action nobody placed fails here, long
before its events would be shown to staff only (the fail-closed default)."""

from __future__ import annotations

import ast
from pathlib import Path

from infrawg import policy

PACKAGE = Path(policy.__file__).parent

# Calls whose action is computed; each expands to actions listed in AUDIT_VISIBILITY.
DYNAMIC = {
    ("archives/service.py", "set_list_visibility"): [
        "archive.list_visibility.public",
        "archive.list_visibility.members",
        "archive.list_visibility.staff",
    ],
    ("archives/service.py", "set_thread_visibility"): [
        "archive.thread_visibility.public",
        "archive.thread_visibility.members",
        "archive.thread_visibility.staff",
        "archive.thread_visibility.inherit",
    ],
    ("governance/service.py", "end_group_roles"): ["staff.ended", "chair.ended", "board.ended"],
    ("membership/accounts.py", "end_session"): ["account.signed_out", "account.session_ended"],
    ("surveys/answers.py", "record_answering"): [
        "survey.answered",
        "survey.draft_saved",
        "survey.tenant_answered",
        "survey.tenant_answer_edited",
    ],
    ("tenants/service.py", "decide_application"): [
        "co_application.chair_approved",
        "co_application.chair_declined",
        "co_application.board_approved",
        "co_application.board_declined",
    ],
    ("tenants/service.py", "invite"): [
        "tenant_member.invited",
        "tenant_member.successor_nominated",
    ],
    ("provisioning/service.py", "_set_state"): [
        "service.approved",
        "service.declined",
        "service.failed",
        "service.provisioning",
        "service.active",
    ],
}


def _recorded_actions() -> tuple[set[str], set[tuple[str, str]]]:
    constants: set[str] = set()
    dynamic: set[tuple[str, str]] = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for call in ast.walk(function):
                if not (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in ("record", "record_refused")
                    and isinstance(call.func.value, ast.Name)
                    and call.func.value.id == "audit"
                ):
                    continue
                if call.func.attr == "record_refused":
                    constants.add("refused")
                    continue
                action = call.args[1]
                branches = (
                    [action.body, action.orelse] if isinstance(action, ast.IfExp) else [action]
                )
                if all(isinstance(b, ast.Constant) and isinstance(b.value, str) for b in branches):
                    constants.update(b.value for b in branches)  # type: ignore[attr-defined]
                else:
                    dynamic.add((path.relative_to(PACKAGE).as_posix(), function.name))
    return constants, dynamic


def test_every_recorded_action_has_a_visibility_in_the_policy_module():
    constants, dynamic = _recorded_actions()
    assert constants, "no audit.record call found"
    assert sorted(constants - policy.AUDIT_VISIBILITY.keys()) == []
    unplaced = sorted(site for site in dynamic if site not in DYNAMIC)
    assert unplaced == [], "list the actions these calls record in DYNAMIC and in policy"
    for actions in DYNAMIC.values():
        assert sorted(set(actions) - policy.AUDIT_VISIBILITY.keys()) == []
