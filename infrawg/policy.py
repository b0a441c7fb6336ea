"""Who may do what: the only place that answers it.

Permissions are ``scope:resource:action`` strings mapped from roles here. Routes declare
their access with ``@public``, ``@signed_in`` or ``@requires(...)``; a route that declares
nothing is refused for everyone (private data fails closed). Rules that depend on the
subject (a tenant member of *this* organisation) are answered by ``can`` too.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from flask import abort, current_app, g, request
from flask_login import current_user
from sqlalchemy import select

from infrawg.errors import NotAllowed
from infrawg.extensions import db, login_manager
from infrawg.governance.models import Role, RoleGrant

if TYPE_CHECKING:
    from infrawg.membership.models import Person


class Permission(StrEnum):
    AUDIT_READ = "governance:audit:read"
    MEMBERSHIP_DECIDE = "membership:application:decide"
    MEMBERSHIP_DRIFT_READ = "membership:list:drift"
    MEMBERSHIP_DRIFT_REPAIR = "membership:list:repair"
    ROSTER_MANAGE = "membership:roster:manage"
    DIRECTORY_READ = "membership:people:read"
    DASHBOARD_READ = "membership:dashboard:read"
    STAFF_REQUEST = "governance:staff:request"
    STAFF_DECIDE = "governance:staff:decide"
    CHAIR_APPOINT = "governance:chair:appoint"
    ORGANISATION_READ = "tenants:organisation:read"
    ORGANISATION_MANAGE = "tenants:organisation:manage"
    APPLICATION_CREATE = "tenants:application:create"
    APPLICATION_DECIDE_CHAIR = "tenants:application:decide-chair"
    APPLICATION_DECIDE_BOARD = "tenants:application:decide-board"
    TENANT_INVITE = "tenants:member:invite"
    TENANT_ACT_FOR = "tenants:organisation:act-for"
    SERVICE_VIEW = "provisioning:service:view"
    SERVICE_MANAGE = "provisioning:service:manage"
    SERVICE_READ_ALL = "provisioning:service:read-all"
    SERVICE_DECIDE = "provisioning:service:decide"
    SERVICE_TYPE_MANAGE = "provisioning:type:manage"
    JOB_MANAGE = "provisioning:job:manage"
    SURVEY_READ = "surveys:survey:read"
    SURVEY_CREATE = "surveys:survey:create"
    SURVEY_MANAGE = "surveys:survey:manage"
    SURVEY_RESULTS_READ = "surveys:results:read"
    GOAL_READ_DRAFT = "surveys:goal:read-draft"
    GOAL_COMMENT = "surveys:goal:comment"
    GOAL_MANAGE = "surveys:goal:manage"
    GOAL_PUBLISH = "surveys:goal:publish"
    MILESTONE_READ = "surveys:milestone:read"
    MILESTONE_MANAGE = "surveys:milestone:manage"
    ARCHIVE_READ = "archives:message:read"
    ARCHIVE_READ_SENSITIVE = "archives:message:read-staff"
    ARCHIVE_RESTRICT = "archives:visibility:restrict"
    ARCHIVE_PUBLISH = "archives:visibility:publish"
    ARCHIVE_QUARANTINE = "archives:quarantine:manage"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.MEMBER: frozenset(
        {
            Permission.AUDIT_READ,
            Permission.DIRECTORY_READ,
            Permission.DASHBOARD_READ,
            Permission.STAFF_REQUEST,
            Permission.ORGANISATION_READ,
            Permission.APPLICATION_CREATE,
            Permission.SERVICE_VIEW,
        }
    ),
    Role.STAFF: frozenset(
        {
            Permission.MEMBERSHIP_DECIDE,
            Permission.MEMBERSHIP_DRIFT_READ,
            Permission.MEMBERSHIP_DRIFT_REPAIR,
            # Staff work the service queue and provision every tenant's services.
            Permission.SERVICE_MANAGE,
            Permission.SERVICE_READ_ALL,
            Permission.JOB_MANAGE,
        }
    ),
    Role.CHAIR: frozenset(
        {
            Permission.MEMBERSHIP_DECIDE,
            Permission.MEMBERSHIP_DRIFT_READ,
            Permission.MEMBERSHIP_DRIFT_REPAIR,
            Permission.ROSTER_MANAGE,
            # R3: staff status is at the chair's sole discretion.
            Permission.STAFF_DECIDE,
            Permission.ORGANISATION_MANAGE,
            Permission.APPLICATION_DECIDE_CHAIR,
            Permission.TENANT_INVITE,
            Permission.SERVICE_MANAGE,
            Permission.SERVICE_READ_ALL,
            Permission.JOB_MANAGE,
            # R9: the chair has the final say on services and adds service types.
            Permission.SERVICE_DECIDE,
            Permission.SERVICE_TYPE_MANAGE,
        }
    ),
    # R6, R8: the board appoints the chair and recognises community organisations.
    Role.BOARD: frozenset(
        {
            Permission.CHAIR_APPOINT,
            Permission.APPLICATION_DECIDE_BOARD,
            Permission.ORGANISATION_READ,
        }
    ),
}

# R15: members answer the survey, read its results, comment on draft goals and see the
# milestones (R16: internal); the chair runs the survey and publishes the goals; the chair
# and staff plan milestones, for the group and for other working groups.
ROLE_PERMISSIONS[Role.MEMBER] |= {
    Permission.SURVEY_READ,
    Permission.SURVEY_RESULTS_READ,
    Permission.GOAL_READ_DRAFT,
    Permission.GOAL_COMMENT,
    Permission.MILESTONE_READ,
}
ROLE_PERMISSIONS[Role.STAFF] |= {Permission.MILESTONE_MANAGE}
ROLE_PERMISSIONS[Role.CHAIR] |= {
    Permission.SURVEY_CREATE,
    Permission.SURVEY_MANAGE,
    Permission.GOAL_MANAGE,
    Permission.GOAL_PUBLISH,
    Permission.MILESTONE_MANAGE,
}

# R16: the archives are for members; staff also read threads kept to staff (sensitive
# topics) and may mark a thread so; only the chair makes anything public, or undoes it.
ROLE_PERMISSIONS[Role.MEMBER] |= {Permission.ARCHIVE_READ}
ROLE_PERMISSIONS[Role.STAFF] |= {
    Permission.ARCHIVE_READ_SENSITIVE,
    Permission.ARCHIVE_RESTRICT,
    Permission.ARCHIVE_QUARANTINE,
}
ROLE_PERMISSIONS[Role.CHAIR] |= {
    Permission.ARCHIVE_READ_SENSITIVE,
    Permission.ARCHIVE_RESTRICT,
    Permission.ARCHIVE_PUBLISH,
    Permission.ARCHIVE_QUARANTINE,
}

# Roles that only count while the person is a member of the group.
MEMBER_ONLY_ROLES = frozenset({Role.STAFF, Role.CHAIR})


def roles_of(person: Person | None) -> frozenset[Role]:
    """The roles a person holds now (cached for the request)."""
    if person is None or not getattr(person, "is_authenticated", False):
        return frozenset()
    cache: dict[int, frozenset[Role]] = g.setdefault("_roles", {})
    if person.id not in cache:
        granted = set(
            db.session.scalars(
                select(RoleGrant.role).where(
                    RoleGrant.person_id == person.id, RoleGrant.ended_at.is_(None)
                )
            )
        )
        if person.is_member:
            granted.add(Role.MEMBER)
        else:
            granted -= MEMBER_ONLY_ROLES
        cache[person.id] = frozenset(granted)
    return cache[person.id]


def forget_roles() -> None:
    """Drop the request's role cache after a change of roles."""
    g.pop("_roles", None)


def permissions_of(person: Person | None) -> frozenset[Permission]:
    perms: set[Permission] = set()
    for role in roles_of(person):
        perms |= ROLE_PERMISSIONS[role]
    return frozenset(perms)


SubjectRule = Callable[["Person", Any], bool]
# Permissions a person holds over one subject without the role that grants them
# everywhere (a tenant member over their own organisation). Rules are written below in
# this module and registered with @subject_rule.
SUBJECT_RULES: dict[Permission, SubjectRule] = {}


def subject_rule(permission: Permission) -> Callable[[SubjectRule], SubjectRule]:
    def register(rule: SubjectRule) -> SubjectRule:
        SUBJECT_RULES[permission] = rule
        return rule

    return register


def can(person: Person | None, permission: Permission, subject: Any = None) -> bool:
    """Whether ``person`` may do ``permission`` (to ``subject``, where it matters)."""
    if permission in permissions_of(person):
        return True
    rule = SUBJECT_RULES.get(permission)
    if rule is None or subject is None or person is None or not person.is_authenticated:
        return False
    return rule(person, subject)


def _is_tenant_member_of(person: Person, organisation: Any) -> bool:
    from infrawg.tenants.models import TenantMember, TenantOrganisation

    if not isinstance(organisation, TenantOrganisation) or not person.is_member:
        return False
    return (
        db.session.scalar(
            select(TenantMember.id).where(
                TenantMember.organisation_id == organisation.id,
                TenantMember.person_id == person.id,
                TenantMember.ended_at.is_(None),
            )
        )
        is not None
    )


@subject_rule(Permission.TENANT_INVITE)
def _tenant_member_invites(person: Person, organisation: Any) -> bool:
    # R4: an existing tenant member may invite another liaison for their organisation.
    return _is_tenant_member_of(person, organisation)


@subject_rule(Permission.TENANT_ACT_FOR)
def _tenant_member_acts_for(person: Person, organisation: Any) -> bool:
    # R5: tenant members speak for their organisation (leave, hand over, apply as CO).
    return _is_tenant_member_of(person, organisation)


@subject_rule(Permission.SURVEY_MANAGE)
def _delegated_survey_manager(person: Person, survey: Any) -> bool:
    # R15: the chair runs the survey and may delegate one to a staff member.
    from infrawg.surveys.models import Survey, SurveyManager

    return (
        isinstance(survey, Survey)
        and Role.STAFF in roles_of(person)
        and db.session.get(SurveyManager, (survey.id, person.id)) is not None
    )


@subject_rule(Permission.SERVICE_MANAGE)
def _tenant_member_manages_services(person: Person, subject: Any) -> bool:
    # R5: tenant members look after their own organisation's services (a zone's records).
    from infrawg.tenants.models import TenantOrganisation

    if isinstance(subject, TenantOrganisation):
        return _is_tenant_member_of(person, subject)
    organisation = getattr(subject, "organisation_id", None)
    if organisation is None:
        return False
    return _is_tenant_member_of(person, db.session.get(TenantOrganisation, organisation))


def require(person: Person | None, permission: Permission, subject: Any = None) -> None:
    """Raise NotAllowed unless ``can(person, permission, subject)``."""
    if not can(person, permission, subject):
        raise NotAllowed("You do not have permission to do that.")


# Route access declarations -------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"
SIGNED_IN = "signed_in"


def public(view: F) -> F:
    """Anyone may open this route, signed in or not."""
    view.access = PUBLIC  # type: ignore[attr-defined]
    return view


def signed_in(view: F) -> F:
    """Any signed-in account may open this route (whatever its membership status)."""
    view.access = SIGNED_IN  # type: ignore[attr-defined]
    return view


def requires(permission: Permission) -> Callable[[F], F]:
    """Only people with ``permission`` may open this route."""

    def decorate(view: F) -> F:
        view.access = permission  # type: ignore[attr-defined]
        return view

    return decorate


def guard_request() -> Any:
    """before_request: enforce the route's declared access; undeclared routes show nothing."""
    if request.endpoint is None:
        return None  # 404/405 handled by Flask
    view = current_app.view_functions.get(request.endpoint)
    access = getattr(view, "access", None)
    if request.endpoint == "static" or access == PUBLIC:
        return None
    if access is None:
        abort(404)
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if access == SIGNED_IN:
        return None
    require(current_user, access)
    return None
