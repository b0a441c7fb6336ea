"""People, their accounts and their membership of the group."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infrawg.enums import LabelledEnum
from infrawg.extensions import Model, enum_type
from infrawg.timeutil import utcnow


class MembershipStatus(LabelledEnum):
    AWAITING_CONFIRMATION = "awaiting_confirmation", "Awaiting email confirmation"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    MEMBER = "member", "Member"
    DECLINED = "declined", "Declined"
    LEFT = "left", "Left the group"


class Person(UserMixin, Model):
    """An account; a foundation member who applied, is a member, or once was."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[MembershipStatus] = mapped_column(
        enum_type(MembershipStatus), default=MembershipStatus.AWAITING_CONFIRMATION, index=True
    )
    status_reason: Mapped[str | None]
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    declared_foundation_member: Mapped[bool] = mapped_column(Boolean, default=False)
    email_confirmed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # The server-side session (an AccountSession) and its token this object was loaded for,
    # set by the user loader or when a session opens; plain attributes, never stored.
    if TYPE_CHECKING:
        signed_in_session: AccountSession | None
        _session_token: str | None
    signed_in_session = None
    _session_token = None

    linked_logins: Mapped[list[LinkedLogin]] = relationship(
        back_populates="person", lazy="raise", order_by="LinkedLogin.linked_at"
    )

    def get_id(self) -> str:
        # The id in the signed session and remember-me cookies names a server-side session
        # row: signing out deletes the row, and every copy of the cookie stops working.
        if self._session_token is None:
            raise RuntimeError("Open a session first: infrawg.membership.accounts.open_session")
        return f"{self.id}:{self._session_token}"

    def __eq__(self, other: object) -> bool:
        # UserMixin compares get_id(), which names a session: compare the account instead.
        return isinstance(other, Person) and other.id == self.id

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = object.__hash__

    @property
    def is_member(self) -> bool:
        return self.status == MembershipStatus.MEMBER

    @property
    def awaiting_confirmation(self) -> bool:
        return self.status == MembershipStatus.AWAITING_CONFIRMATION

    @property
    def awaiting_approval(self) -> bool:
        return self.status == MembershipStatus.AWAITING_APPROVAL

    @property
    def was_declined(self) -> bool:
        return self.status == MembershipStatus.DECLINED

    @property
    def has_left(self) -> bool:
        return self.status == MembershipStatus.LEFT

    @property
    def audit_label(self) -> str:
        return f"{self.name} <{self.email}>"

    def __repr__(self) -> str:
        return f"<Person {self.id} {self.email} {self.status}>"


class LinkedLogin(Model):
    """An OpenID Connect identity that signs a person in."""

    __tablename__ = "linked_login"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_linked_login_identity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(300))
    email: Mapped[str] = mapped_column(String(320))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(back_populates="linked_logins", lazy="raise")

    @property
    def audit_label(self) -> str:
        return f"{self.issuer} {self.email}"


class RosterEntry(Model):
    """An email on the foundation's member roster, as last uploaded by the chair."""

    __tablename__ = "roster_entry"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ListCall(Model):
    """One call the `log` list backend received: the record the drift report reads."""

    __tablename__ = "list_call"

    id: Mapped[int] = mapped_column(primary_key=True)
    list_address: Mapped[str] = mapped_column(String(320), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    action: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountSession(Model):
    """One signed-in browser: the server's half of the session cookie.

    The cookie holds a random token; the row holds its SHA-256, so the database alone
    signs no one in. No row, no session: sign-out, "end this session" and a password
    change delete rows, and copied cookies (remember-me too) stop working.
    """

    __tablename__ = "account_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str | None] = mapped_column(String(64))
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When this session last passed a second factor (sign-in or a re-check); None: never.
    second_factor_at: Mapped[datetime | None]

    @property
    def device(self) -> str:
        """A short name of the browser and system, from the user agent."""
        return describe_user_agent(self.user_agent)

    @property
    def audit_label(self) -> str:
        return f"session of {self.device} from {self.address or 'unknown address'}"


_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_user_agent(user_agent: str) -> str:
    """ "Firefox on Linux" from a user-agent string; the string itself when unknown."""
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or (user_agent[:60] or "Unknown browser")


class ListException(Model):
    """A known exception to "members are on the list, others are not", with staff's reason:
    an address kept on the list though not a member (`on_list`), or a member kept off it."""

    __tablename__ = "list_exception"
    __table_args__ = (UniqueConstraint("list_address", "email", name="uq_list_exception_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_address: Mapped[str] = mapped_column(String(320))
    email: Mapped[str] = mapped_column(String(320))
    on_list: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def audit_label(self) -> str:
        where = "kept on the list" if self.on_list else "kept off the list"
        return f"{self.email} ({where})"


class ListRosterEntry(Model):
    """The list's roster as the last `flask infrawg list sync` saw it (to notice who
    subscribed or unsubscribed on the list itself since)."""

    __tablename__ = "list_roster_entry"

    list_address: Mapped[str] = mapped_column(String(320), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class ListDriftSeen(Model):
    """A drift row already reported to staff, so the sync mails only new ones."""

    __tablename__ = "list_drift_seen"

    list_address: Mapped[str] = mapped_column(String(320), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    on_list: Mapped[bool] = mapped_column(Boolean)  # True: on the list but not a member
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


# Two-factor sign-in (infrawg/membership/twofactor.py) ----------------------------------


class TotpFactor(Model):
    """An authenticator app (TOTP, RFC 6238) of one person.

    The shared secret is stored as it is (the app and the site must both know it); the
    last accepted time step is kept so that a code works once.
    """

    __tablename__ = "totp_factor"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), unique=True)
    secret: Mapped[str] = mapped_column(String(64))
    last_step: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    @property
    def audit_label(self) -> str:
        return "authenticator app"


class SecurityKey(Model):
    """A WebAuthn credential (security key or passkey) of one person: its public key only."""

    __tablename__ = "security_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # base64url of the credential id the authenticator chose (at most 1023 bytes).
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    @property
    def audit_label(self) -> str:
        return f"security key {self.name}"


class RecoveryCode(Model):
    """A one-time recovery code: only its SHA-256 is kept (the code is random, 60 bits)."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]

    @property
    def audit_label(self) -> str:
        return "recovery codes"
