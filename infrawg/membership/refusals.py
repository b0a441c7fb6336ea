"""What the membership views give ``web.submit`` as ``again``: where a refusal is shown.

Bad input (a form that did not validate, an ``Invalid`` from the service) is the form
again, 422, the message next to its field. A refusal of the act itself (a ``Conflict``
such as R4's last tenant member, a ``NotFound``) is the error page the domain-error
handler renders, with its own status: it belongs to no field of the form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from flask.typing import ResponseReturnValue

from infrawg.errors import DomainError, Invalid
from infrawg.web import incomplete_form

Again = Callable[[int, DomainError | None], ResponseReturnValue]


def form_or_error_page(show_form: Callable[[int], ResponseReturnValue]) -> Again:
    """``again`` for a form: ``show_form(status)`` for bad input, the error page otherwise."""

    def again(status: int, error: DomainError | None) -> ResponseReturnValue:
        if error is not None and not isinstance(error, Invalid):
            raise error
        return show_form(status)

    return again


def error_page(status: int, error: DomainError | None) -> NoReturn:
    """``again`` for a button (a form of only its CSRF token): the error page."""
    if error is None:
        incomplete_form()
    raise error
