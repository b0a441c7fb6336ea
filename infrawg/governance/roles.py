"""Who holds which role now: the queries every area asks (deciders to mail, the board).

Reading only; granting and ending roles are governance's service functions.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from infrawg import policy
from infrawg.extensions import db
from infrawg.governance.models import Role, RoleGrant
from infrawg.membership.models import MembershipStatus, Person


def people_with_roles(roles: set[Role]) -> list[Person]:
    """Members holding any of ``roles`` now (each once)."""
    return list(
        db.session.scalars(
            select(Person)
            .join(RoleGrant, RoleGrant.person_id == Person.id)
            .where(
                RoleGrant.role.in_(roles),
                RoleGrant.ended_at.is_(None),
                Person.status == MembershipStatus.MEMBER,
            )
            .distinct()
        )
    )


def current_grants(role: Role) -> list[RoleGrant]:
    """Current grants of ``role`` to people for whom it counts, oldest first."""
    stmt = (
        select(RoleGrant)
        .join(Person, Person.id == RoleGrant.person_id)
        .where(RoleGrant.role == role, RoleGrant.ended_at.is_(None))
        .options(selectinload(RoleGrant.person))
        .order_by(RoleGrant.granted_at, RoleGrant.id)
    )
    if role in policy.MEMBER_ONLY_ROLES:
        stmt = stmt.where(Person.status == MembershipStatus.MEMBER)
    return list(db.session.scalars(stmt))


def current_chair() -> RoleGrant | None:
    grants = current_grants(Role.CHAIR)
    return grants[0] if grants else None


def board_members() -> list[Person]:
    return [grant.person for grant in current_grants(Role.BOARD)]
