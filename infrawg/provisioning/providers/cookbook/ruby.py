"""Ruby literals for values a tenant typed: every string reaches the cookbook as data, never code.

The generator writes no tenant text into Ruby except through `literal`, which emits a string,
integer, float, boolean, nil, array or hash literal. A string becomes a single-quoted literal
(Cookstyle's preferred style) when it is printable text without quotes, backslashes or anything
that looks like interpolation; otherwise a double-quoted one in which `"`, `\\`, control
characters (as `\\u{...}`: `\\0` before a digit would be octal) and every `#` that could start
an interpolation (`#{`, `#$`, `#@`) are escaped, so `#{...}` and backticks in tenant input are
characters, not Ruby. An array of plain words is written `%w(...)`, as RuboCop asks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = ["RubyValue", "literal", "string"]

RubyValue = str | int | float | bool | None | Sequence["RubyValue"] | Mapping[str, "RubyValue"]

# RuboCop's WordRegex: word characters, or words joined by single hyphens.
_WORD = re.compile(r"^(?:\w|\w-\w)+$")
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\x1b": "\\e",
}


def string(value: str) -> str:
    """`value` as a Ruby string literal that evaluates to exactly `value`."""
    plain = all(ch.isprintable() for ch in value) and not any(c in value for c in "\\'")
    # '#{x}' in single quotes is data to Ruby but RuboCop's Lint/InterpolationCheck flags it.
    if plain and not any(f"#{c}" in value for c in "{$@"):
        return f"'{value}'"
    out = []
    for i, ch in enumerate(value):
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == "#" and value[i + 1 : i + 2] in ("{", "$", "@"):
            out.append("\\#")
        elif not ch.isprintable() or ch in "\u2028\u2029":
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def literal(value: RubyValue) -> str:
    """Any attribute value (JSON-like data) as a Ruby literal; hashes keep their key order."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("NaN and infinity have no Ruby literal")
        return repr(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        pairs = ", ".join(f"{string(str(k))} => {literal(v)}" for k, v in value.items())
        return "{ " + pairs + " }"
    if isinstance(value, Sequence):
        if len(value) >= 2 and all(isinstance(v, str) and _WORD.match(v) for v in value):
            # What RuboCop's Style/WordArray asks for; a word has no space, bracket or quote.
            return "%w(" + " ".join(str(v) for v in value) + ")"
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"no Ruby literal for {type(value).__name__}")
