"""Looking people up: by email, by id, and the canonical form of an address.

Every area finds people here, so none of them imports membership's service (its rules).
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from infrawg.errors import Invalid, NotFound
from infrawg.extensions import db
from infrawg.membership.models import Person


def normalise_email(raw: str) -> str:
    """The address in canonical form; Invalid with the validator's reason otherwise."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise Invalid(f"That email address is not valid: {exc}", field="email") from None


def person_by_email(email: str) -> Person | None:
    return db.session.scalar(select(Person).where(Person.email == email.lower()))


def get_person(person_id: int) -> Person:
    person = db.session.get(Person, person_id)
    if person is None:
        raise NotFound("There is no such person.")
    return person
