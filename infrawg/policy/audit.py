"""Who may read each event of the audit trail: the policy module's answer for that channel.

Every output is a channel: the audit trail shows a person only what the pages it comes from
would show them. Each event is given a visibility when it is recorded (with the organisation
and the person it concerns), so /audit filters in SQL and its counts, pages, filters and
exports agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import and_, false, or_, select

# The package itself, read at call time: policy imports the jobs, whose runner records
# audit events, which import this module while policy is still loading.
from infrawg import policy as access
from infrawg.actions import Action
from infrawg.archives.models import MailingList, Thread, Visibility
from infrawg.extensions import db
from infrawg.jobs.models import Job
from infrawg.jobs.service import subject_of
from infrawg.membership.models import Person
from infrawg.tenants.models import TenantMember, TenantOrganisation


class AuditVisibility(StrEnum):
    GROUP = "group"  # every reader of the trail (what members read on the site anyway)
    TENANT = "tenant"  # the organisation's tenant members, the people concerned, staff
    CONCERNED = "concerned"  # the actor and the person it is about, staff
    STAFF = "staff"  # staff and the chair only

    @property
    def label(self) -> str:
        return {
            "group": "the whole group",
            "tenant": "the organisation's tenant members",
            "concerned": "the people concerned",
            "staff": "staff and the chair",
        }[self.value]


_GROUP, _TENANT, _CONCERNED, _STAFF = (
    AuditVisibility.GROUP,
    AuditVisibility.TENANT,
    AuditVisibility.CONCERNED,
    AuditVisibility.STAFF,
)

# Every action recorded anywhere (grep ``audit.record``). An action not listed here is
# shown to staff and the chair only: a new kind of event fails closed until it is placed.
AUDIT_VISIBILITY: dict[Action, AuditVisibility] = {
    # Roles are public within the group (the people pages show grants and their reasons,
    # R3, R6); asking for staff status and the chair's refusal stay with the person (R3).
    Action.STAFF_REQUESTED: _CONCERNED,
    Action.STAFF_REQUEST_WITHDRAWN: _CONCERNED,
    Action.STAFF_DECLINED: _CONCERNED,
    Action.STAFF_GRANTED: _GROUP,
    Action.STAFF_REVOKED: _GROUP,
    Action.STAFF_STEPPED_DOWN: _GROUP,
    Action.STAFF_ENDED: _GROUP,
    Action.STAFF_KEPT: _GROUP,
    Action.CHAIR_ENDED: _GROUP,
    Action.BOARD_ENDED: _GROUP,
    Action.CHAIR_REPLACED: _GROUP,
    Action.CHAIR_APPOINTED: _GROUP,
    Action.BOARD_GRANTED: _GROUP,
    # R2: the group sees who joined; applications, refusals and departures are personal.
    Action.MEMBERSHIP_ADMITTED: _GROUP,
    Action.MEMBERSHIP_APPLIED: _CONCERNED,
    Action.MEMBERSHIP_EMAIL_CONFIRMED: _CONCERNED,
    Action.MEMBERSHIP_AWAITING_APPROVAL: _CONCERNED,
    Action.MEMBERSHIP_DECLINED: _CONCERNED,
    Action.MEMBERSHIP_LEFT: _CONCERNED,
    Action.MEMBERSHIP_REJOIN: _CONCERNED,
    Action.MEMBERSHIP_ROSTER_UPLOADED: _STAFF,
    # Repairs of the list's drift name addresses that may not be members: staff's.
    Action.MEMBERSHIP_LIST_SUBSCRIBED: _STAFF,
    Action.MEMBERSHIP_LIST_UNSUBSCRIBED: _STAFF,
    Action.MEMBERSHIP_LIST_INVITED: _STAFF,
    Action.MEMBERSHIP_LIST_EXCEPTION_RECORDED: _STAFF,
    Action.MEMBERSHIP_LIST_EXCEPTION_REMOVED: _STAFF,
    Action.MEMBERSHIP_LIST_ASKED_IF_LEAVING: _CONCERNED,
    Action.ACCOUNT_PASSWORD_RESET: _CONCERNED,
    Action.ACCOUNT_PASSWORD_CHANGED: _CONCERNED,
    Action.ACCOUNT_PROFILE_UPDATED: _CONCERNED,
    Action.ACCOUNT_LOGIN_LINKED: _CONCERNED,
    Action.ACCOUNT_LOGIN_UNLINKED: _CONCERNED,
    Action.ACCOUNT_SIGNED_OUT: _CONCERNED,
    # Who was mailed what is staff's to see (addresses, subjects of private acts).
    Action.MAIL_RETRIED: _STAFF,
    Action.ACCOUNT_SESSION_ENDED: _CONCERNED,
    Action.ACCOUNT_OTHER_SESSIONS_ENDED: _CONCERNED,
    # A refused request is the person's own business (and staff's).
    Action.REFUSED: _CONCERNED,
    Action.DEMO_CREATED: _STAFF,
    # R16: archive events are members' business unless the list or thread is kept to
    # staff (decided from the subject, see _archive_visibility); quarantine is staff's.
    Action.ARCHIVE_LIST_VISIBILITY_PUBLIC: _GROUP,
    Action.ARCHIVE_LIST_VISIBILITY_MEMBERS: _GROUP,
    Action.ARCHIVE_LIST_VISIBILITY_STAFF: _STAFF,
    # Staff only: a staff-only list's description must not reach members through the trail.
    Action.ARCHIVE_LIST_DESCRIBED: _STAFF,
    Action.ARCHIVE_THREAD_VISIBILITY_PUBLIC: _GROUP,
    Action.ARCHIVE_THREAD_VISIBILITY_MEMBERS: _GROUP,
    Action.ARCHIVE_THREAD_VISIBILITY_STAFF: _STAFF,
    Action.ARCHIVE_THREAD_VISIBILITY_INHERIT: _GROUP,
    Action.ARCHIVE_IMPORTED: _GROUP,
    Action.ARCHIVE_REIMPORTED: _STAFF,
    Action.ARCHIVE_REIMPORT_FAILED: _STAFF,
    # Organisations and their applications are on the organisation pages for every
    # member (R8: decisions with reasons); invitations name invitees' emails, which only
    # the organisation's tenant members and the chair see (R4, R5).
    Action.ORGANISATION_WG_RECORDED: _GROUP,
    Action.ORGANISATION_CHARTER_ENDED: _GROUP,
    Action.ORGANISATION_CO_CREATED: _GROUP,
    Action.ORGANISATION_RECOGNISED: _GROUP,
    Action.CO_APPLICATION_SUBMITTED: _GROUP,
    Action.CO_APPLICATION_CHAIR_APPROVED: _GROUP,
    Action.CO_APPLICATION_CHAIR_DECLINED: _GROUP,
    Action.CO_APPLICATION_BOARD_APPROVED: _GROUP,
    Action.CO_APPLICATION_BOARD_DECLINED: _GROUP,
    Action.TENANT_MEMBER_ADDED: _GROUP,
    Action.TENANT_MEMBER_INVITED: _TENANT,
    Action.TENANT_MEMBER_SUCCESSOR_NOMINATED: _TENANT,
    Action.TENANT_MEMBER_INVITATION_ACCEPTED: _TENANT,
    Action.TENANT_MEMBER_LEFT: _TENANT,
    # R15: the survey's making is the chair's (and delegates'); opening and closing it is
    # news for all; answers are the respondent's (anonymity is kept by the surveys area).
    Action.SURVEY_CREATED: _STAFF,
    Action.SURVEY_UPDATED: _STAFF,
    Action.SURVEY_COPIED: _STAFF,
    Action.SURVEY_QUESTION_ADDED: _STAFF,
    Action.SURVEY_QUESTION_UPDATED: _STAFF,
    Action.SURVEY_QUESTION_REMOVED: _STAFF,
    Action.SURVEY_QUESTION_MOVED: _STAFF,
    Action.SURVEY_DELEGATED: _STAFF,
    Action.SURVEY_OPENED: _GROUP,
    Action.SURVEY_CLOSED: _GROUP,
    Action.SURVEY_DRAFT_SAVED: _CONCERNED,
    Action.SURVEY_ANSWERED: _CONCERNED,
    Action.SURVEY_TENANT_ANSWERED: _CONCERNED,
    Action.SURVEY_TENANT_ANSWER_EDITED: _CONCERNED,
    Action.SURVEY_REMINDERS_STOPPED: _CONCERNED,
    Action.SURVEY_REMINDERS_RESTARTED: _CONCERNED,
    # Members read draft goals and comment on them, and read milestones (R15, R16).
    Action.GOAL_DRAFTED: _GROUP,
    Action.GOAL_UPDATED: _GROUP,
    Action.GOAL_COMMENTED: _GROUP,
    Action.GOAL_PUBLISHED: _GROUP,
    Action.GOALS_PUBLISHED: _GROUP,
    Action.GOAL_STATUS_UPDATED: _GROUP,
    Action.PROJECT_CREATED: _GROUP,
    Action.MILESTONE_ADDED: _GROUP,
    Action.MILESTONE_UPDATED: _GROUP,
    Action.PROJECT_CALENDAR_LINK_ISSUED: _CONCERNED,
    Action.PROJECT_CALENDAR_LINK_REVOKED: _CONCERNED,
    # R9: the catalogue of service types is open to every tenant; a tenant's services,
    # zones, records and plans are its own (and staff's), as on the service pages.
    Action.SERVICE_TYPE_ADDED: _GROUP,
    Action.SERVICE_TYPE_UPDATED: _GROUP,
    Action.SERVICE_REQUESTED: _TENANT,
    Action.SERVICE_CAPACITY_OVERRIDDEN: _TENANT,
    Action.SERVICE_APPROVED: _TENANT,
    Action.SERVICE_DECLINED: _TENANT,
    Action.SERVICE_FAILED: _TENANT,
    Action.SERVICE_PROVISIONING: _TENANT,
    Action.SERVICE_ACTIVE: _TENANT,
    Action.SERVICE_SUSPENDED: _TENANT,
    Action.SERVICE_RESUMED: _TENANT,
    Action.SERVICE_DRIFTED: _TENANT,
    Action.SERVICE_APPLY_REQUESTED: _TENANT,
    Action.VM_REBOOT_REQUESTED: _TENANT,
    Action.VM_REBUILD_REQUESTED: _TENANT,
    Action.SERVICE_DECOMMISSION_REQUESTED: _TENANT,
    Action.SERVICE_DECOMMISSIONED: _TENANT,
    Action.JOB_RETRIED: _TENANT,
    Action.JOB_RUN_NOW: _STAFF,  # schedules are the site's own work
    Action.DNS_RECORD_ADDED: _TENANT,
    Action.DNS_RECORD_CHANGED: _TENANT,
    Action.DNS_RECORD_DELETED: _TENANT,
    Action.DNS_DNSSEC_ON: _TENANT,
    Action.DNS_DNSSEC_OFF: _TENANT,
    Action.DNS_APPLY_REQUESTED: _TENANT,
    Action.TLS_UNMANAGED_APPROVED: _TENANT,
    Action.TLS_KEY_DOWNLOADED: _TENANT,
    # R14: the tenant and staff work on the cookbook together; both read its history.
    Action.APP_VERSION_SAVED: _TENANT,
    Action.APP_VERSION_SUBMITTED: _TENANT,
    Action.APP_VERSION_APPROVED: _TENANT,
    Action.APP_VERSION_CHANGES_REQUESTED: _TENANT,
    Action.APP_VERSION_PUBLISHED: _TENANT,
    # R10: a domain's payment and the board's decision on it are the tenant's (and staff's).
    Action.DOMAIN_PAYMENT_RECORDED: _TENANT,
    Action.DOMAIN_FOUNDATION_ASKED: _TENANT,
    Action.DOMAIN_FOUNDATION_APPROVED: _TENANT,
    Action.DOMAIN_FOUNDATION_DECLINED: _TENANT,
    Action.DOMAIN_REGISTRAR_TASK_DONE: _TENANT,
    Action.DOMAIN_EXPIRED: _TENANT,
    # Second factors are the person's own business (and staff's, who answer lock-outs).
    Action.TWOFACTOR_TOTP_ADDED: _CONCERNED,
    Action.TWOFACTOR_TOTP_REMOVED: _CONCERNED,
    Action.TWOFACTOR_SECURITY_KEY_ADDED: _CONCERNED,
    Action.TWOFACTOR_SECURITY_KEY_REMOVED: _CONCERNED,
    Action.TWOFACTOR_RECOVERY_CODES_GENERATED: _CONCERNED,
    Action.TWOFACTOR_RECOVERY_CODE_USED: _CONCERNED,
    Action.TWOFACTOR_FAILED: _CONCERNED,
    # R5: a notice names the services (and organisations) it is about, across tenants:
    # staff's; each tenant member reads it on the site. Acknowledging is the person's own.
    Action.NOTICE_ANNOUNCED: _STAFF,
    Action.NOTICE_UPDATED: _STAFF,
    Action.NOTICE_RESOLVED: _STAFF,
    Action.NOTICE_ACKNOWLEDGED: _CONCERNED,
}


@dataclass(frozen=True)
class AuditScope:
    """Who may read one event: its visibility, the organisation and person it concerns."""

    visibility: AuditVisibility
    organisation_id: int | None
    person_id: int | None


def _audit_organisation_of(subject: Any) -> int | None:

    if isinstance(subject, TenantOrganisation):
        return subject.id
    if isinstance(subject, Job):
        return _audit_organisation_of(subject_of(subject))
    organisation_id = getattr(subject, "organisation_id", None)
    return organisation_id if isinstance(organisation_id, int) else None


def _audit_person_of(subject: Any) -> int | None:

    if isinstance(subject, Person):
        return subject.id
    # A staff request, a tenancy, a linked login, a calendar link: whose it is.
    person_id = getattr(subject, "person_id", None)
    return person_id if isinstance(person_id, int) else None


def _archive_visibility(subject: Any) -> AuditVisibility | None:
    """R16: an event about a list or thread kept to staff is staff's only."""

    if isinstance(subject, Thread):
        level = subject.visibility
        if level is None:
            mailing_list = db.session.get(MailingList, subject.list_id)
            level = mailing_list.visibility if mailing_list is not None else Visibility.STAFF
    elif isinstance(subject, MailingList):
        level = subject.visibility
    else:
        return None
    return _STAFF if level == Visibility.STAFF else None


def audit_scope(action: str, subject: Any = None) -> AuditScope:
    """Who may read an event of ``action`` about ``subject`` (decided when it is recorded).

    Unknown actions are for staff and the chair only (fail closed).
    """
    # An Action is a StrEnum: its value finds it; any other string falls to staff.
    visibility = AUDIT_VISIBILITY.get(cast(Action, action), _STAFF)
    if _archive_visibility(subject) is not None:
        visibility = _STAFF
    return AuditScope(visibility, _audit_organisation_of(subject), _audit_person_of(subject))


def audit_history_restricted(action: str, subject: Any) -> list[tuple[str, Any]]:
    """Subjects whose earlier events become staff's only with this event, as
    ``(subject_type, ids)``: R16, a thread (or a whole list) now kept to staff."""

    if _archive_visibility(subject) is None:
        return []
    if isinstance(subject, Thread):
        return [("archive_thread", [subject.id])]
    assert isinstance(subject, MailingList)
    inheriting = select(Thread.id).where(Thread.list_id == subject.id, Thread.visibility.is_(None))
    return [("archive_list", [subject.id]), ("archive_thread", inheriting)]


def audit_visible_to(person: Person | None, event_model: Any) -> Any:
    """The SQL condition on the audit event model (passed in by ``infrawg.audit``, which
    imports this module) for what ``person`` may read (None: all)."""

    if access.can(person, access.Permission.AUDIT_READ_ALL):
        return None
    if person is None or not access.can(person, access.Permission.AUDIT_READ):
        return false()
    concerned = or_(event_model.actor_id == person.id, event_model.person_id == person.id)
    my_organisations = select(TenantMember.organisation_id).where(
        TenantMember.person_id == person.id, TenantMember.ended_at.is_(None)
    )
    return or_(
        event_model.visibility == _GROUP,
        and_(event_model.visibility.in_([_TENANT, _CONCERNED]), concerned),
        and_(
            event_model.visibility == _TENANT,
            event_model.organisation_id.in_(my_organisations),
        ),
    )
