"""What the survey pages share beyond web.py."""

from __future__ import annotations

from typing import NoReturn

from infrawg.errors import DomainError
from infrawg.web import incomplete_form


def refused(_status: int, error: DomainError | None) -> NoReturn:
    """``again`` for a button (a form of its CSRF token, or a short note): it has no page
    of its own to show again, so a refusal is the error handler's page: the service's
    error, or the form that came back incomplete."""
    if error is not None:
        raise error
    incomplete_form()
