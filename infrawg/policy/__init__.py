"""Who may do what: the only place that answers it (who reads each audit event: ``audit.py``
beside this module).

Permissions are ``scope:resource:action`` strings mapped from roles here. Routes declare
their access with ``@public``, ``@signed_in`` or ``@requires(...)``; a route that declares
nothing is refused for everyone (private data fails closed). Rules that depend on the
subject (a tenant member of *this* organisation) are answered by ``can`` too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

from flask import abort, current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import select

from infrawg.errors import NotAllowed, SecondFactorNeeded
from infrawg.extensions import db, login_manager
from infrawg.governance.models import Role, RoleGrant
from infrawg.jobs.models import Job
from infrawg.jobs.service import subject_of
from infrawg.membership.models import Person, SecurityKey, TotpFactor
from infrawg.provisioning.models import Service
from infrawg.status.models import ImpactNotice, NoticeService
from infrawg.surveys.models import Survey, SurveyManager
from infrawg.tenants.models import TenantMember, TenantOrganisation
from infrawg.timeutil import utcnow


class Permission(StrEnum):
    AUDIT_READ = "governance:audit:read"
    AUDIT_READ_ALL = "governance:audit:read-all"
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
    APP_REVIEW = "provisioning:app:review"
    JOB_MANAGE = "provisioning:job:manage"
    JOB_FOLLOW = "jobs:job:follow"  # a job's progress and its log lines that are not staff's
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
    MAIL_READ = "notices:mail:read"
    MAIL_RETRY = "notices:mail:retry"
    NOTICE_MANAGE = "status:notice:manage"
    NOTICE_READ = "status:notice:read"
    COMPONENTS_READ = "site:components:read"
    DOMAIN_PAYMENT_DECIDE = "provisioning:domain:decide-payment"


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
            Permission.JOB_FOLLOW,
            # R14: staff review each version of an application's cookbook.
            Permission.APP_REVIEW,
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
            Permission.JOB_FOLLOW,
            # R9: the chair has the final say on services and adds service types.
            Permission.SERVICE_DECIDE,
            Permission.SERVICE_TYPE_MANAGE,
            Permission.APP_REVIEW,
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

# Mail holds confirmation and password-reset links: only staff and the chair read what the
# site sent (the development outbox) or could not deliver yet, and send it again.
ROLE_PERMISSIONS[Role.STAFF] |= {Permission.MAIL_READ, Permission.MAIL_RETRY}
ROLE_PERMISSIONS[Role.CHAIR] |= {Permission.MAIL_READ, Permission.MAIL_RETRY}

# R5: staff and the chair announce impact notices and read every one; a tenant member reads
# those about their own organisations' services (the subject rule below).
ROLE_PERMISSIONS[Role.STAFF] |= {Permission.NOTICE_MANAGE, Permission.NOTICE_READ}
ROLE_PERMISSIONS[Role.CHAIR] |= {Permission.NOTICE_MANAGE, Permission.NOTICE_READ}
# The living style guide (/dev/components) is a tool for the people who work on the site.
ROLE_PERMISSIONS[Role.STAFF] |= {Permission.COMPONENTS_READ}
ROLE_PERMISSIONS[Role.CHAIR] |= {Permission.COMPONENTS_READ}

# R10: only the board decides that the foundation pays for a domain (the chair alone cannot).
ROLE_PERMISSIONS[Role.BOARD] |= {Permission.DOMAIN_PAYMENT_DECIDE}

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
    """Drop the request's role cache after a change of roles (or of the second factor)."""
    g.pop("_roles", None)
    g.pop("_powers", None)


# Two-factor sign-in (issue 14): the powers of these roles are used only through a session
# that passed a second factor; until then the person holds a member's powers. Privileged
# acts ask for it again when the session's last check is older than RECHECK_AFTER.
SECOND_FACTOR_ROLES = frozenset({Role.STAFF, Role.CHAIR, Role.BOARD})
RECHECK_PERMISSIONS = frozenset(
    {
        Permission.STAFF_DECIDE,  # grant, keep or revoke staff status (R3)
        Permission.CHAIR_APPOINT,  # appoint or replace the chair (R6)
        Permission.ARCHIVE_PUBLISH,  # make a thread or list public (R16)
        Permission.SERVICE_DECIDE,  # approve or decline a service (R9)
        Permission.DOMAIN_PAYMENT_DECIDE,  # the board decides the foundation pays (R10)
    }
)
RECHECK_AFTER = timedelta(minutes=15)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def needs_second_factor(person: Person | None) -> bool:
    """Whether ``person`` holds a role that needs a second factor their session lacks.

    Only a signed-in web session is asked: the command line and jobs act without one.
    """
    record = getattr(person, "signed_in_session", None)
    if record is None or record.second_factor_at is not None:
        return False
    return bool(roles_of(person) & SECOND_FACTOR_ROLES)


def powers_of(person: Person | None) -> frozenset[Role]:
    """The roles whose powers ``person`` may use now (see SECOND_FACTOR_ROLES); cached for
    the request like the roles, as every ``can`` asks (a page asks a few dozen times), and
    by whether the session still lacks its second factor (a request that passes it sees
    the new powers at once)."""
    if person is None or not getattr(person, "is_authenticated", False):
        return frozenset()
    record = getattr(person, "signed_in_session", None)
    key = (person.id, record is not None and record.second_factor_at is None)
    cache: dict[tuple[int, bool], frozenset[Role]] = g.setdefault("_powers", {})
    if key not in cache:
        roles = roles_of(person)
        cache[key] = roles - SECOND_FACTOR_ROLES if needs_second_factor(person) else roles
    return cache[key]


def recheck_due(person: Person | None, permission: Permission | None = None) -> bool:
    """Whether this request's privileged act (``permission`` in RECHECK_PERMISSIONS, or
    None for a route marked ``@recent_second_factor``) must ask for the second factor."""
    if permission is not None and permission not in RECHECK_PERMISSIONS:
        return False
    if not has_request_context() or request.method in _SAFE_METHODS:
        return False
    record = getattr(person, "signed_in_session", None)
    if record is None:
        return False
    checked = record.second_factor_at
    return checked is None or utcnow() - checked > RECHECK_AFTER


def permissions_of(person: Person | None) -> frozenset[Permission]:
    # Only the powers usable now: a role that needs a second factor the session has not
    # passed gives nothing (SECOND_FACTOR_ROLES).
    return _permissions_of_roles(powers_of(person))


@functools.cache
def _permissions_of_roles(roles: frozenset[Role]) -> frozenset[Permission]:
    # A page asks can() a few dozen times (the nav, its buttons); the union of the role
    # sets is worked out once per combination of roles (there are a handful), not each time.
    perms: set[Permission] = set()
    for role in roles:
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

    return (
        isinstance(survey, Survey)
        and Role.STAFF in powers_of(person)
        and db.session.get(SurveyManager, (survey.id, person.id)) is not None
    )


@subject_rule(Permission.SERVICE_MANAGE)
def _tenant_member_manages_services(person: Person, subject: Any) -> bool:
    # R5: tenant members look after their own organisation's services (a zone's records).

    if isinstance(subject, TenantOrganisation):
        return _is_tenant_member_of(person, subject)
    organisation = getattr(subject, "organisation_id", None)
    if organisation is None:
        return False
    return _is_tenant_member_of(person, db.session.get(TenantOrganisation, organisation))


@subject_rule(Permission.NOTICE_READ)
def _tenant_member_reads_notice(person: Person, notice: Any) -> bool:
    # R5: the tenant members of an affected organisation are the ones told.
    if not isinstance(notice, ImpactNotice) or not person.is_member:
        return False
    affected = (
        select(Service.organisation_id)
        .join(NoticeService, NoticeService.service_id == Service.id)
        .where(NoticeService.notice_id == notice.id)
    )
    return (
        db.session.scalar(
            select(TenantMember.id).where(
                TenantMember.person_id == person.id,
                TenantMember.ended_at.is_(None),
                TenantMember.organisation_id.in_(affected),
            )
        )
        is not None
    )


# The tables whose rows belong to one organisation and whose jobs its tenant members may
# follow. Fail closed: a job about anything else (or about nothing) is staff's alone.
TENANT_FOLLOWED_SUBJECTS = frozenset({"service"})


@subject_rule(Permission.JOB_FOLLOW)
def _tenant_member_follows_jobs(person: Person, target: Any) -> bool:
    # R5: tenant members follow the work on their own organisation's services as it runs.
    if not isinstance(target, Job) or target.subject_type not in TENANT_FOLLOWED_SUBJECTS:
        return False
    subject = subject_of(target)
    return subject is not None and _tenant_member_manages_services(person, subject)


def require(person: Person | None, permission: Permission, subject: Any = None) -> None:
    """Raise NotAllowed unless ``can(person, permission, subject)``; SecondFactorNeeded
    when it is a privileged act and the session's second factor is not recent."""
    if not can(person, permission, subject):
        if needs_second_factor(person):
            raise NotAllowed(
                "Your role needs two-factor sign-in: set up an authenticator app or a "
                "security key on your account page first."
            )
        raise NotAllowed("You do not have permission to do that.")
    if recheck_due(person, permission):
        raise SecondFactorNeeded("Confirm it is you: this act asks for your second factor again.")


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


def requires(permission: Permission, subject: Callable[..., Any] | None = None) -> Callable[[F], F]:
    """Only people with ``permission`` may open this route.

    With ``subject``, a loader called with the route's URL values (``subject=get_survey``
    for ``/surveys/<int:survey_id>``), the permission is asked about the thing it loads
    (a tenant member of *this* organisation); the view reads it with ``route_subject()``
    instead of loading and checking it again.
    """

    def decorate(view: F) -> F:
        view.access = permission  # type: ignore[attr-defined]
        view.access_subject = subject  # type: ignore[attr-defined]
        return view

    return decorate


def recent_second_factor(view: F) -> F:
    """A change to the account's own second factors (removing one, new recovery codes): as
    a privileged act, it asks for the second factor again after RECHECK_AFTER, when the
    person has one (a stolen session cookie cannot switch two-factor sign-in off)."""
    view.recheck = True  # type: ignore[attr-defined]
    return view


def _has_second_factor(person: Person) -> bool:
    app = select(TotpFactor.id).where(TotpFactor.person_id == person.id)
    key = select(SecurityKey.id).where(SecurityKey.person_id == person.id)
    return db.session.scalar(app.union_all(key).limit(1)) is not None


def route_subject() -> Any:
    """The subject ``@requires(..., subject=loader)`` loaded and checked for this request."""
    return g.route_subject


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
    recheck = getattr(view, "recheck", False) and recheck_due(current_user)
    if recheck and _has_second_factor(current_user):
        raise SecondFactorNeeded("Confirm it is you: this change asks for your second factor.")
    if access == SIGNED_IN:
        return None
    loader = getattr(view, "access_subject", None)
    if loader is None:
        require(current_user, access)
        return None
    # The loader's NotFound answers before the check, so a refusal never confirms that
    # something exists the person may not know about.
    g.route_subject = loader(**(request.view_args or {}))
    require(current_user, access, g.route_subject)
    return None


# Staff and the chair read the whole audit trail; who reads each event otherwise is decided
# in infrawg/policy/audit.py.
ROLE_PERMISSIONS[Role.STAFF] |= {Permission.AUDIT_READ_ALL}
ROLE_PERMISSIONS[Role.CHAIR] |= {Permission.AUDIT_READ_ALL}
