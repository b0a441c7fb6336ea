"""Secret references for provider configuration.

Configuration (and the database) hold only a reference: `env:NAME` or `file:/absolute/path`.
The value is read when a provider is built and lives in a `Secret`, whose repr and str never
show it, so a secret cannot leak through a log line, a traceback or a template by accident.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from infrawg.errors import Invalid

__all__ = ["Secret", "is_secret_ref", "resolve_secret"]


class Secret:
    """A resolved secret. Call `reveal()` at the one place the value is needed."""

    __slots__ = ("_value", "ref")

    def __init__(self, value: str, ref: str = "") -> None:
        self._value = value
        self.ref = ref  # the reference is not secret: it says where the value came from

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(ref={self.ref!r}, value='***')" if self.ref else "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the value to a job queue or a cache; refuse.
        raise TypeError("Secret values are not picklable; store the reference instead.")


def is_secret_ref(value: object) -> bool:
    return isinstance(value, str) and (value.startswith("env:") or value.startswith("file:"))


def resolve_secret(ref: str) -> Secret:
    """Resolve `env:NAME` or `file:/path` to a Secret; raise Invalid saying what is wrong.

    A file must be a regular file readable by its owner only (mode 0600 or 0400, as ssh does
    for private keys): a key readable by group or others is already disclosed.
    """
    if ref.startswith("env:"):
        name = ref[4:]
        if not name:
            raise Invalid("A secret reference env: needs a variable name, e.g. env:TSIG_SECRET.")
        value = os.environ.get(name)
        if value is None:
            raise Invalid(f"The environment variable {name} named by {ref!r} is not set.")
        return Secret(value.strip(), ref)
    if ref.startswith("file:"):
        path = Path(ref[5:])
        if not path.is_absolute():
            raise Invalid(f"A secret file reference must be an absolute path, not {ref!r}.")
        try:
            st = path.stat()
        except FileNotFoundError as exc:
            raise Invalid(f"The secret file {path} does not exist.") from exc
        except PermissionError as exc:
            raise Invalid(f"The secret file {path} cannot be read by this process.") from exc
        if not stat.S_ISREG(st.st_mode):
            raise Invalid(f"The secret file {path} is not a regular file.")
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise Invalid(
                f"The secret file {path} is open to group or others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); run `chmod 600 {path}` and try again."
            )
        try:
            return Secret(path.read_text().strip(), ref)
        except PermissionError as exc:
            raise Invalid(f"The secret file {path} cannot be read by this process.") from exc
    raise Invalid(
        "A secret must be given as a reference (env:NAME or file:/path), not a literal value "
        "(the value given is not repeated here)."
    )
