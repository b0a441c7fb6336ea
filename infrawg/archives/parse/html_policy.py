"""What of an HTML body the archive shows, and its plain text."""

from __future__ import annotations

import html
import re

import nh3

from infrawg.archives.parse.headers import fold

__all__ = ["html_to_text", "sanitise_html"]

# img is left out on purpose: a remote image in a confidential archive tells its sender
# who read the message and when.
_HTML_TAGS = frozenset(nh3.ALLOWED_TAGS - {"img"})
_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_BLOCK_END = re.compile(r"(?i)(<br\s*/?>|</(?:p|div|tr|li|h[1-6]|blockquote|pre|table)\s*>)")


def sanitise_html(markup: str) -> str:
    """An HTML body cleaned to show: no scripts, handlers, ``javascript:`` URLs or images."""
    return nh3.clean(
        markup,
        tags=set(_HTML_TAGS),
        url_schemes=set(_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def html_to_text(markup: str) -> str:
    """Plain text of an HTML body, for search and for messages without a text part."""
    marked = _BLOCK_END.sub(lambda m: m.group(1) + "\n", markup)
    text = html.unescape(nh3.clean(marked, tags=set(), strip_comments=True))
    lines = (fold(line) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
