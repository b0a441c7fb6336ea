"""Tenant organisations (R1, R7, R8) and their tenant members (R4, R5)."""

from __future__ import annotations

from sqlalchemy import select

from infrawg.extensions import db
from infrawg.membership.models import MembershipStatus, Person
from infrawg.tenants.models import TenantMember, TenantOrganisation


def contacts_for(organisation: TenantOrganisation) -> list[Person]:
    """R5: who must be told when the organisation's services will be impacted.

    The current tenant members of the organisation who are members of the group, oldest
    liaison first.
    """
    return list(
        db.session.scalars(
            select(Person)
            .join(TenantMember, TenantMember.person_id == Person.id)
            .where(
                TenantMember.organisation_id == organisation.id,
                TenantMember.ended_at.is_(None),
                Person.status == MembershipStatus.MEMBER,
            )
            .order_by(TenantMember.joined_at, TenantMember.id)
        )
    )
