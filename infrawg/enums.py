"""Labelled enumerations: every state, kind and status, with its label declared once.

``class Status(LabelledEnum): OPEN = "open", "Open for answers"`` gives a ``StrEnum`` (stored
by value, compared with ``==`` to its value) whose members carry ``label``; a member declared
with a value only gets its value, capitalised, with spaces for underscores. ``choices()``
gives the options of a select field.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from wtforms.fields.choices import SelectChoice


class LabelledEnum(StrEnum):
    label: str

    def __new__(cls, value: str, label: str | None = None) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label if label is not None else value.replace("_", " ").capitalize()
        return member

    @classmethod
    def choices(cls) -> list[SelectChoice]:
        """The members as options of a select field, in declaration order."""
        return [SelectChoice(member.value, member.label) for member in cls]
