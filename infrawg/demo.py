"""Demo data for `make run`: people in every role, so a newcomer can try each page."""

from __future__ import annotations

import secrets
from datetime import date
from importlib import import_module

import click
from sqlalchemy import func, select

from infrawg import AREAS, audit, policy
from infrawg.actions import Action
from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from infrawg.membership.lists import follow_membership
from infrawg.membership.models import MembershipStatus, Person, TotpFactor
from infrawg.membership.passwords import hash_password
from infrawg.membership.twofactor import generate_recovery_codes, new_totp_secret
from infrawg.timeutil import utcnow

# (name, email, status, roles)
PEOPLE = [
    ("Cleo Chair", "chair@example.org", MembershipStatus.MEMBER, (Role.CHAIR,)),
    ("Sam Staff", "staff1@example.org", MembershipStatus.MEMBER, (Role.STAFF,)),
    ("Sasha Staff", "staff2@example.org", MembershipStatus.MEMBER, (Role.STAFF,)),
    ("Mia Member", "member1@example.org", MembershipStatus.MEMBER, ()),
    ("Milo Member", "member2@example.org", MembershipStatus.MEMBER, ()),
    ("Tara Tenant", "tenant1@example.org", MembershipStatus.MEMBER, ()),  # Packaging WG
    ("Theo Tenant", "tenant2@example.org", MembershipStatus.MEMBER, ()),  # Community Meetups
    ("Bo Board", "board@example.org", MembershipStatus.LEFT, (Role.BOARD,)),
    ("Ada Applicant", "applicant@example.org", MembershipStatus.AWAITING_APPROVAL, ()),
    ("Dan Declined", "declined@example.org", MembershipStatus.DECLINED, ()),
]
# Why the declined applicant was declined (what their status page shows).
DECLINED_REASON = "Not a foundation member according to the roster of 2026-01."


def load_demo(if_empty: bool = False) -> None:
    """Create the demo people (one random password, printed once) and their roles."""
    if if_empty and db.session.scalar(select(func.count()).select_from(Person)):
        click.echo("Demo data: the database already has people; nothing loaded.")
        return
    password = secrets.token_urlsafe(9)
    password_hash = hash_password(password)
    people: dict[str, Person] = {}
    for name, email, status, roles in PEOPLE:
        person = Person(
            name=name,
            email=email,
            password_hash=password_hash,
            status=status,
            declared_foundation_member=True,
            email_confirmed_at=utcnow(),
        )
        if status == MembershipStatus.DECLINED:
            person.status_reason = DECLINED_REASON
        db.session.add(person)
        db.session.flush()
        people[email] = person
        audit.record(None, Action.DEMO_CREATED, person, "demo data")
        if status == MembershipStatus.DECLINED:
            audit.record(None, Action.MEMBERSHIP_DECLINED, person, DECLINED_REASON)
        if status == MembershipStatus.MEMBER:
            follow_membership(email)
        for role in roles:
            grant = RoleGrant(person_id=person.id, role=role, authority="demo data")
            if role == Role.CHAIR:
                grant.authority = "board resolution"
                grant.resolution_ref = "DEMO-2026-01"
                grant.resolution_date = date(2026, 1, 15)
            db.session.add(grant)
    db.session.flush()
    # Staff, the chair and the board need a second factor: one authenticator-app key for
    # all of them (printed below), and recovery codes for the chair.
    totp_secret = new_totp_secret()
    for _name, email, _status, roles in PEOPLE:
        if set(roles) & policy.SECOND_FACTOR_ROLES:
            db.session.add(TotpFactor(person_id=people[email].id, secret=totp_secret))
    db.session.flush()
    chair_codes = generate_recovery_codes(people["chair@example.org"], notify=False)
    for area in AREAS:
        # Each area may add its own demo data, given the people made here.
        try:
            area_demo = import_module(f"infrawg.{area}.demo")
        except ModuleNotFoundError:
            continue
        area_demo.load_demo(people)
    db.session.commit()
    click.echo("Demo data loaded. Every demo account has the password (shown only now):")
    click.echo(f"    {password}")
    width = max(len(email) for _, email, _, _ in PEOPLE)
    tenant_of = {
        "tenant1@example.org": "tenant member of the Packaging Working Group",
        "tenant2@example.org": "tenant member of Community Meetups",
    }
    for name, email, status, roles in PEOPLE:
        label = ", ".join(r.value for r in roles) or tenant_of.get(email) or status.label.lower()
        click.echo(f"    {email:<{width}}  {name} ({label})")
    click.echo(
        "Staff, the chair and the board sign in with a second factor. Their authenticator-app\n"
        "key (add it to an app such as FreeOTP or Aegis, or print the current code with\n"
        f".venv/bin/python -c \"import pyotp; print(pyotp.TOTP('{totp_secret}').now())\"):"
    )
    click.echo(f"    {totp_secret}")
    click.echo("Recovery codes of chair@example.org (each works once):")
    click.echo("    " + "  ".join(chair_codes[:5]))
