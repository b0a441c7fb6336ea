"""What every area's forms share."""

from collections.abc import Iterable
from typing import Any

from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice


class ConfirmForm(FlaskForm):
    """A form with only its CSRF token: for buttons that act."""


def options(pairs: Iterable[tuple[Any, str]]) -> list[SelectChoice]:
    """Options of a select field from (value, label) pairs (WTForms 3.3 retires bare tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]
