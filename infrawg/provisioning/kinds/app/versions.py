"""The app kind's service functions (R14): the tenant describes the application, each saved
change is a new version with its checks, staff review the diff and approve or ask for changes,
and only an approved version is published (`publish_version`, the one place of that rule).

Converging runs in the operators' Chef (CONVERGE_NOTE), not in this site: publishing is a git
commit in the directory the operators' Chef reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from infrawg import audit, policy
from infrawg.actions import Action
from infrawg.errors import Conflict, Invalid, NotFound
from infrawg.extensions import db
from infrawg.membership.models import Person
from infrawg.policy import Permission
from infrawg.provisioning import service as services
from infrawg.provisioning.kinds.app.models import AppVersion, VersionState
from infrawg.provisioning.models import Service
from infrawg.provisioning.providers.cookbook import (
    Approval,
    AppSpec,
    CheckResult,
    CookbookDirProvider,
    CookbookRelease,
    diff_versions,
    generate,
    publish,
    review,
)
from infrawg.timeutil import utcnow

# The check a version gets when its description does not hold (a template with Ruby in it,
# an attribute a template uses but nobody defined): the version is kept, the check fails.
DESCRIPTION = "application description"


# -- reading -------------------------------------------------------------------------------------


def versions_of(service: Service) -> list[AppVersion]:
    """The service's versions, newest first."""
    return list(
        db.session.scalars(
            select(AppVersion)
            .where(AppVersion.service_id == service.id)
            .order_by(AppVersion.number.desc())
        )
    )


def get_version(service: Service, number: int) -> AppVersion:
    version = db.session.scalar(
        select(AppVersion).where(AppVersion.service_id == service.id, AppVersion.number == number)
    )
    if version is None:
        raise NotFound(f"{service.name} has no version {number}.")
    return version


def spec_of(version: AppVersion) -> AppSpec | None:
    """The version's AppSpec, or None when its description did not hold."""
    try:
        return AppSpec.from_dict(version.spec)
    except Invalid:
        return None


def results_of(version: AppVersion) -> list[CheckResult]:
    return [CheckResult(**r) for r in version.checks]


def diff_of(version: AppVersion, service: Service) -> str:
    """The unified diff of the generated cookbook against the version before (every file is
    new for the first one); generation is deterministic, so the stored specs are enough."""
    current = spec_of(version)
    if current is None:
        return ""
    previous = _previous(service, version)
    before = spec_of(previous) if previous is not None else None
    old_label = before.version if before is not None else "none"
    return diff_versions(
        generate(before) if before else {}, generate(current), old_label, current.version
    )


def _previous(service: Service, version: AppVersion) -> AppVersion | None:
    return db.session.scalar(
        select(AppVersion).where(
            AppVersion.service_id == service.id, AppVersion.number == version.number - 1
        )
    )


# -- the tenant's description --------------------------------------------------------------------


def _value(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text) if any(ch.isdigit() for ch in text) else text
    except ValueError:
        return text


def describe(service: Service, actor: Person, fields: Mapping[str, Any], number: int) -> dict:
    """The AppSpec data (AppSpec.to_dict shape) the edit form's fields describe; a line that
    cannot be read is refused next to its field."""
    cookbook = str(service.parameters.get("cookbook") or service.name)
    packages = [line.strip() for line in str(fields.get("packages") or "").splitlines()]
    ports = []
    for token in str(fields.get("ports") or "").replace(",", " ").split():
        number_text, _, protocol = token.partition("/")
        if not number_text.isdigit():
            raise Invalid(f"{token!r} is not a port (such as 8080 or 8125/udp).", field="ports")
        ports.append({"number": int(number_text), "protocol": protocol or "tcp"})
    attributes = []
    for line in str(fields.get("attributes") or "").splitlines():
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        if not equals:
            raise Invalid(f"{line.strip()!r} is not name=value.", field="attributes")
        attributes.append({"name": name.strip(), "default": _value(value)})
    command = str(fields.get("command") or "").strip()
    path = str(fields.get("template_path") or "").strip()
    content = str(fields.get("template_content") or "").replace("\r\n", "\n")
    return {
        "name": cookbook,
        "version": f"1.{number - 1}.0",
        "maintainer": actor.name,
        "maintainer_email": actor.email,
        "description": str(fields.get("description") or "").strip() or f"The {cookbook} app",
        "packages": [p for p in packages if p],
        "service": (
            {
                "name": cookbook.replace("_", "-"),
                "command": command,
                "user": str(fields.get("user") or "root").strip() or "root",
            }
            if command
            else None
        ),
        "ports": ports,
        "templates": [{"path": path, "content": content}] if path or content.strip() else [],
        "attributes": attributes,
        "vm": str(service.parameters.get("vm") or ""),
    }


def form_fields(version: AppVersion | None) -> dict[str, str]:
    """The edit form's fields for a version (the newest, to edit from)."""
    if version is None:
        return {}
    data = version.spec
    service = data.get("service") or {}
    template = (data.get("templates") or [{}])[0]

    def shown(value: Any) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    return {
        "description": data.get("description", ""),
        "packages": "\n".join(data.get("packages") or []),
        "command": service.get("command", ""),
        "user": service.get("user", "root"),
        "ports": ", ".join(
            str(p["number"]) + ("" if p.get("protocol", "tcp") == "tcp" else "/udp")
            for p in data.get("ports") or []
        ),
        "template_path": template.get("path", ""),
        "template_content": template.get("content", ""),
        "attributes": "\n".join(
            f"{a['name']}={shown(a['default'])}" for a in data.get("attributes") or []
        ),
    }


def _editable(actor: Person, service: Service) -> None:
    policy.require(actor, Permission.SERVICE_MANAGE, service)
    if not service.state.on_provider:
        raise Conflict(
            f"The application can be described once the service is approved; it is "
            f"{service.state.label.lower()}."
        )


def save_version(actor: Person, service: Service, fields: Mapping[str, Any]) -> AppVersion:
    """The tenant's change as a new version (R14: each change is a new version with a diff),
    checked now: every check's results are kept with it for the review."""
    _editable(actor, service)
    versions = versions_of(service)
    latest = versions[0] if versions else None
    number = latest.number + 1 if latest else 1
    data = describe(service, actor, fields, number)
    if latest is not None and _same(latest.spec, data):
        raise Conflict(f"Nothing changed since version {latest.number}.")
    try:
        spec = AppSpec.from_dict(data)
    except Invalid as problem:
        results = [CheckResult(DESCRIPTION, problem.field or "", None, problem.message, False)]
        stored = data
    else:
        before = spec_of(latest) if latest is not None else None
        results = list(review(spec, before).results)
        stored = spec.to_dict()
    version = AppVersion(
        service_id=service.id,
        number=number,
        spec=stored,
        author_id=actor.id,
        checks=[dataclasses.asdict(r) for r in results],
        failed=sum(1 for r in results if not r.passed),
    )
    db.session.add(version)
    db.session.flush()
    audit.record(actor, Action.APP_VERSION_SAVED, service, f"version {number}")
    return version


def _same(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    strip = ("version", "maintainer", "maintainer_email")
    try:
        left = AppSpec.from_dict(old).to_dict()
        right = AppSpec.from_dict(new).to_dict()
    except Invalid:
        left, right = dict(old), dict(new)
    return {k: v for k, v in left.items() if k not in strip} == {
        k: v for k, v in right.items() if k not in strip
    }


def submit_version(actor: Person, service: Service, number: int) -> AppVersion:
    """The tenant hands a draft to staff for review."""
    policy.require(actor, Permission.SERVICE_MANAGE, service)
    version = get_version(service, number)
    if version.state != VersionState.DRAFT:
        raise Conflict(f"Version {number} is {version.state.label}; only a draft is submitted.")
    newest = versions_of(service)[0]
    if newest.id != version.id:
        raise Conflict(f"Version {number} is not the newest; submit version {newest.number}.")
    version.state = VersionState.SUBMITTED
    audit.record(actor, Action.APP_VERSION_SUBMITTED, service, f"version {number}")
    return version


# -- staff's review ------------------------------------------------------------------------------


def _reviewable(actor: Person, service: Service, number: int) -> AppVersion:
    policy.require(actor, Permission.APP_REVIEW, service)
    version = get_version(service, number)
    if version.state != VersionState.SUBMITTED:
        raise Conflict(
            f"Version {number} is {version.state.label}; staff review a submitted version."
        )
    return version


def approve_version(actor: Person, service: Service, number: int, comment: str) -> AppVersion:
    """Staff approve a submitted version. A version with a failing check is refused: staff ask
    for changes instead (the checks are shown beside the buttons)."""
    version = _reviewable(actor, service, number)
    if version.author_id == actor.id:
        raise Conflict(
            "A version is approved by someone other than its author; ask another staff member."
        )
    if version.failed:
        raise Conflict(
            f"Version {number} fails {version.failed} check(s); it cannot be approved. "
            "Ask for changes instead."
        )
    _decide(actor, version, VersionState.APPROVED, comment)
    audit.record(actor, Action.APP_VERSION_APPROVED, service, f"version {number}: {comment}"[:2000])
    return version


def request_changes(actor: Person, service: Service, number: int, comment: str) -> AppVersion:
    version = _reviewable(actor, service, number)
    if not comment.strip():
        raise Invalid("Say what should change.", field="comment")
    _decide(actor, version, VersionState.CHANGES_REQUESTED, comment)
    audit.record(
        actor, Action.APP_VERSION_CHANGES_REQUESTED, service, f"version {number}: {comment}"[:2000]
    )
    return version


def _decide(actor: Person, version: AppVersion, state: VersionState, comment: str) -> None:
    version.state = state
    version.reviewer_id = actor.id
    version.reviewed_at = utcnow()
    version.comment = comment.strip()


# -- publishing ----------------------------------------------------------------------------------


def publish_version(actor: Person, service: Service, number: int) -> AppVersion:
    """R14: only a version staff approved is published, as a commit in the cookbook directory
    the operators' Chef reads (the `cookbook_dir` provider). Converging runs there, not here."""
    policy.require(actor, Permission.SERVICE_MANAGE, service)
    version = get_version(service, number)
    reviewer = db.session.get(Person, version.reviewer_id) if version.reviewer_id else None
    if version.state != VersionState.APPROVED or reviewer is None:
        raise Conflict(
            f"Version {number} is {version.state.label}: only a version staff approved can be "
            "published (R14). Submit it for review first."
        )
    spec = spec_of(version)
    if spec is None or version.failed:
        raise Conflict(f"Version {number} does not pass its checks; it cannot be published.")
    provider = services.provider_for(service.service_type.provider)
    if not isinstance(provider, CookbookDirProvider):
        raise Conflict(f"{service.service_type.provider} does not publish cookbooks.")
    # The framework refuses a plan that rewrites most of a resource unless forced. Staff
    # reviewed this version's diff against the version before; when that one is what the
    # directory holds, the plan is exactly what they reviewed, so it runs however large.
    before = published(service)
    reviewed_whole = before is not None and before.number == version.number - 1
    result = publish(provider, release_of(version), force=reviewed_whole)
    version.state = VersionState.PUBLISHED
    version.published_at = utcnow()
    # The commit the provider made (the directory's HEAD), shown on the version's page.
    version.published_commit = provider._git("rev-parse", "HEAD").stdout.strip()
    audit.record(
        actor, Action.APP_VERSION_PUBLISHED, service, f"version {number}: {'; '.join(result.log)}"
    )
    return version


def published(service: Service) -> AppVersion | None:
    """The newest published version (what the provider holds)."""
    return db.session.scalar(
        select(AppVersion)
        .where(AppVersion.service_id == service.id, AppVersion.state == VersionState.PUBLISHED)
        .order_by(AppVersion.number.desc())
    )


def release_of(version: AppVersion) -> CookbookRelease:
    spec = spec_of(version)
    if spec is None:
        raise ValueError(f"Version {version.number} has no valid description")
    reviewer = db.session.get(Person, version.reviewer_id) if version.reviewer_id else None
    by = f"{reviewer.name} <{reviewer.email}>" if reviewer else ""
    return CookbookRelease.of(
        spec.name, spec.version, generate(spec), Approval(True, by, version.comment)
    )


def waiting_review(person: Person, limit: int = 10) -> tuple[int, list[tuple[AppVersion, Service]]]:
    """For staff (APP_REVIEW): how many versions wait for a review, and the oldest few with
    their services, in one query each."""
    if not policy.can(person, Permission.APP_REVIEW):
        return 0, []
    waiting = AppVersion.state == VersionState.SUBMITTED
    total = db.session.scalar(select(func.count()).select_from(AppVersion).where(waiting)) or 0
    rows = db.session.execute(
        select(AppVersion, Service)
        .join(Service, Service.id == AppVersion.service_id)
        .where(waiting)
        .order_by(AppVersion.created_at, AppVersion.id)
        .limit(limit)
    ).all()
    return total, [(version, service) for version, service in rows]
