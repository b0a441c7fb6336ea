"""The audit trail's vocabulary: every action any area records, in one place.

Like warehouse's ``EventTag``: ``audit.record`` takes an ``Action``, so a typo is a type
error, and who may read each action is decided once, in ``policy.audit.AUDIT_VISIBILITY`` (a test
fails when an action has no visibility there).
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    # Roles are public within the group (the people pages show grants and their reasons,
    # R3, R6); asking for staff status and the chair's refusal stay with the person (R3).
    STAFF_REQUESTED = "staff.requested"
    STAFF_REQUEST_WITHDRAWN = "staff.request_withdrawn"
    STAFF_DECLINED = "staff.declined"
    STAFF_GRANTED = "staff.granted"
    STAFF_REVOKED = "staff.revoked"
    STAFF_STEPPED_DOWN = "staff.stepped_down"
    STAFF_ENDED = "staff.ended"
    STAFF_KEPT = "staff.kept"
    CHAIR_ENDED = "chair.ended"
    BOARD_ENDED = "board.ended"
    CHAIR_REPLACED = "chair.replaced"
    CHAIR_APPOINTED = "chair.appointed"
    BOARD_GRANTED = "board.granted"
    # R2: the group sees who joined; applications, refusals and departures are personal.
    MEMBERSHIP_ADMITTED = "membership.admitted"
    MEMBERSHIP_APPLIED = "membership.applied"
    MEMBERSHIP_EMAIL_CONFIRMED = "membership.email_confirmed"
    MEMBERSHIP_AWAITING_APPROVAL = "membership.awaiting_approval"
    MEMBERSHIP_DECLINED = "membership.declined"
    MEMBERSHIP_LEFT = "membership.left"
    MEMBERSHIP_REJOIN = "membership.rejoin"
    MEMBERSHIP_ROSTER_UPLOADED = "membership.roster_uploaded"
    MEMBERSHIP_LIST_SUBSCRIBED = "membership.list_subscribed"
    MEMBERSHIP_LIST_UNSUBSCRIBED = "membership.list_unsubscribed"
    MEMBERSHIP_LIST_INVITED = "membership.list_invited"
    MEMBERSHIP_LIST_EXCEPTION_RECORDED = "membership.list_exception_recorded"
    MEMBERSHIP_LIST_EXCEPTION_REMOVED = "membership.list_exception_removed"
    MEMBERSHIP_LIST_ASKED_IF_LEAVING = "membership.list_asked_if_leaving"
    ACCOUNT_PASSWORD_RESET = "account.password_reset"
    ACCOUNT_PASSWORD_CHANGED = "account.password_changed"
    ACCOUNT_PROFILE_UPDATED = "account.profile_updated"
    ACCOUNT_LOGIN_LINKED = "account.login_linked"
    ACCOUNT_LOGIN_UNLINKED = "account.login_unlinked"
    ACCOUNT_SIGNED_OUT = "account.signed_out"
    # Who was mailed what is staff's to see (addresses, subjects of private acts).
    MAIL_RETRIED = "mail.retried"
    ACCOUNT_SESSION_ENDED = "account.session_ended"
    ACCOUNT_OTHER_SESSIONS_ENDED = "account.other_sessions_ended"
    # A refused request is the person's own business (and staff's).
    REFUSED = "refused"
    DEMO_CREATED = "demo.created"
    # R16: archive events are members' business unless the list or thread is kept to
    # staff (decided from the subject, see _archive_visibility); quarantine is staff's.
    ARCHIVE_LIST_VISIBILITY_PUBLIC = "archive.list_visibility.public"
    ARCHIVE_LIST_VISIBILITY_MEMBERS = "archive.list_visibility.members"
    ARCHIVE_LIST_VISIBILITY_STAFF = "archive.list_visibility.staff"
    ARCHIVE_LIST_DESCRIBED = "archive.list_described"
    ARCHIVE_THREAD_VISIBILITY_PUBLIC = "archive.thread_visibility.public"
    ARCHIVE_THREAD_VISIBILITY_MEMBERS = "archive.thread_visibility.members"
    ARCHIVE_THREAD_VISIBILITY_STAFF = "archive.thread_visibility.staff"
    ARCHIVE_THREAD_VISIBILITY_INHERIT = "archive.thread_visibility.inherit"
    ARCHIVE_IMPORTED = "archive.imported"
    ARCHIVE_REIMPORTED = "archive.reimported"
    ARCHIVE_REIMPORT_FAILED = "archive.reimport_failed"
    # Organisations and their applications are on the organisation pages for every
    # member (R8: decisions with reasons); invitations name invitees' emails, which only
    # the organisation's tenant members and the chair see (R4, R5).
    ORGANISATION_WG_RECORDED = "organisation.wg_recorded"
    ORGANISATION_CHARTER_ENDED = "organisation.charter_ended"
    ORGANISATION_CO_CREATED = "organisation.co_created"
    ORGANISATION_RECOGNISED = "organisation.recognised"
    CO_APPLICATION_SUBMITTED = "co_application.submitted"
    CO_APPLICATION_CHAIR_APPROVED = "co_application.chair_approved"
    CO_APPLICATION_CHAIR_DECLINED = "co_application.chair_declined"
    CO_APPLICATION_BOARD_APPROVED = "co_application.board_approved"
    CO_APPLICATION_BOARD_DECLINED = "co_application.board_declined"
    TENANT_MEMBER_ADDED = "tenant_member.added"
    TENANT_MEMBER_INVITED = "tenant_member.invited"
    TENANT_MEMBER_SUCCESSOR_NOMINATED = "tenant_member.successor_nominated"
    TENANT_MEMBER_INVITATION_ACCEPTED = "tenant_member.invitation_accepted"
    TENANT_MEMBER_LEFT = "tenant_member.left"
    # R15: the survey's making is the chair's (and delegates'); opening and closing it is
    # news for all; answers are the respondent's (anonymity is kept by the surveys area).
    SURVEY_CREATED = "survey.created"
    SURVEY_UPDATED = "survey.updated"
    SURVEY_COPIED = "survey.copied"
    SURVEY_QUESTION_ADDED = "survey.question_added"
    SURVEY_QUESTION_UPDATED = "survey.question_updated"
    SURVEY_QUESTION_REMOVED = "survey.question_removed"
    SURVEY_QUESTION_MOVED = "survey.question_moved"
    SURVEY_DELEGATED = "survey.delegated"
    SURVEY_OPENED = "survey.opened"
    SURVEY_CLOSED = "survey.closed"
    SURVEY_DRAFT_SAVED = "survey.draft_saved"
    SURVEY_ANSWERED = "survey.answered"
    SURVEY_TENANT_ANSWERED = "survey.tenant_answered"
    SURVEY_TENANT_ANSWER_EDITED = "survey.tenant_answer_edited"
    SURVEY_REMINDERS_STOPPED = "survey.reminders_stopped"
    SURVEY_REMINDERS_RESTARTED = "survey.reminders_restarted"
    # Members read draft goals and comment on them, and read milestones (R15, R16).
    GOAL_DRAFTED = "goal.drafted"
    GOAL_UPDATED = "goal.updated"
    GOAL_COMMENTED = "goal.commented"
    GOAL_PUBLISHED = "goal.published"
    GOALS_PUBLISHED = "goals.published"
    GOAL_STATUS_UPDATED = "goal.status_updated"
    PROJECT_CREATED = "project.created"
    MILESTONE_ADDED = "milestone.added"
    MILESTONE_UPDATED = "milestone.updated"
    PROJECT_CALENDAR_LINK_ISSUED = "project.calendar_link_issued"
    PROJECT_CALENDAR_LINK_REVOKED = "project.calendar_link_revoked"
    # R9: the catalogue of service types is open to every tenant; a tenant's services,
    # zones, records and plans are its own (and staff's), as on the service pages.
    SERVICE_TYPE_ADDED = "service_type.added"
    SERVICE_TYPE_UPDATED = "service_type.updated"
    SERVICE_REQUESTED = "service.requested"
    SERVICE_CAPACITY_OVERRIDDEN = "service.capacity_overridden"
    SERVICE_APPROVED = "service.approved"
    SERVICE_DECLINED = "service.declined"
    SERVICE_FAILED = "service.failed"
    SERVICE_PROVISIONING = "service.provisioning"
    SERVICE_ACTIVE = "service.active"
    # R7: a lapsed charter suspends the organisation's services; recognition resumes them.
    SERVICE_SUSPENDED = "service.suspended"
    SERVICE_RESUMED = "service.resumed"
    SERVICE_DRIFTED = "service.drifted"
    SERVICE_APPLY_REQUESTED = "service.apply_requested"
    VM_REBOOT_REQUESTED = "vm.reboot_requested"
    VM_REBUILD_REQUESTED = "vm.rebuild_requested"
    SERVICE_DECOMMISSION_REQUESTED = "service.decommission_requested"
    SERVICE_DECOMMISSIONED = "service.decommissioned"
    JOB_RETRIED = "job.retried"
    JOB_RUN_NOW = "job.run_now"  # staff ran a schedule outside its slots
    DNS_RECORD_ADDED = "dns.record_added"
    DNS_RECORD_CHANGED = "dns.record_changed"
    DNS_RECORD_DELETED = "dns.record_deleted"
    DNS_DNSSEC_ON = "dns.dnssec_on"
    DNS_DNSSEC_OFF = "dns.dnssec_off"
    DNS_APPLY_REQUESTED = "dns.apply_requested"
    # R12: certificates. A name not hosted here is ordered only once a tenant member approved;
    # the private key leaves the site once, to a tenant member.
    TLS_UNMANAGED_APPROVED = "tls.unmanaged_approved"
    TLS_KEY_DOWNLOADED = "tls.key_downloaded"
    # R14: an application's cookbook versions, their review and publication.
    APP_VERSION_SAVED = "app.version_saved"
    APP_VERSION_SUBMITTED = "app.version_submitted"
    APP_VERSION_APPROVED = "app.version_approved"
    APP_VERSION_CHANGES_REQUESTED = "app.version_changes_requested"
    APP_VERSION_PUBLISHED = "app.version_published"
    # R10: a domain's payment, the board's decision on the foundation paying, the registrar.
    DOMAIN_PAYMENT_RECORDED = "domain.payment_recorded"
    DOMAIN_FOUNDATION_ASKED = "domain.foundation_asked"
    DOMAIN_FOUNDATION_APPROVED = "domain.foundation_approved"
    DOMAIN_FOUNDATION_DECLINED = "domain.foundation_declined"
    DOMAIN_REGISTRAR_TASK_DONE = "domain.registrar_task_done"
    DOMAIN_EXPIRED = "domain.expired"
    # Two-factor sign-in: every change and every failed attempt is the person's own.
    TWOFACTOR_TOTP_ADDED = "twofactor.totp_added"
    TWOFACTOR_TOTP_REMOVED = "twofactor.totp_removed"
    TWOFACTOR_SECURITY_KEY_ADDED = "twofactor.security_key_added"
    TWOFACTOR_SECURITY_KEY_REMOVED = "twofactor.security_key_removed"
    TWOFACTOR_RECOVERY_CODES_GENERATED = "twofactor.recovery_codes_generated"
    TWOFACTOR_RECOVERY_CODE_USED = "twofactor.recovery_code_used"
    TWOFACTOR_FAILED = "twofactor.failed"
    # R5: impact notices name tenants' services: staff's; an acknowledgement is the person's.
    NOTICE_ANNOUNCED = "notice.announced"
    NOTICE_UPDATED = "notice.updated"
    NOTICE_RESOLVED = "notice.resolved"
    NOTICE_ACKNOWLEDGED = "notice.acknowledged"
