"""Ruby literals for values a tenant typed: every string reaches the cookbook as data, never code.

The generator writes no tenant text into Ruby except through `literal`, which emits a string,
integer, float, boolean, nil, array or hash literal. A string becomes a single-quoted literal when
it is plain printable text with nothing that looks like interpolation (Cookstyle's preferred
style), otherwise a double-quoted one in which
`"`, `\\`, control characters (as `\\u{...}`: `\\0` before a digit would be
octal) and every `#` that could start an interpolation (`#{`, `#$`, `#@`)
are escaped, so `#{...}` and backticks in tenant input are characters, not Ruby.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["RubyValue", "literal", "string"]

RubyValue = str | int | float | bool | None | Sequence["RubyValue"] | Mapping[str, "RubyValue"]

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
    plain = all(" " <= ch <= "~" for ch in value) and not any(c in value for c in "\\'")
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
        return "[" + ", ".join(literal(v) for v in value) + "]"
    raise TypeError(f"no Ruby literal for {type(value).__name__}")
