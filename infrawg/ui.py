"""The design system's Python side: the tone of every state (what colour its tag is), and the
navigation each area registers (``web.add_nav_link``) instead of a hand-kept list.

Templates use them through ``templates/_macros.html`` (``tag(state)``) and ``_nav.html``;
``/dev/components`` shows every component.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

from flask import Flask, current_app, request, url_for


class Tone(StrEnum):
    """What a state means to the reader; each tone is one colour pair of the stylesheet."""

    OK = "ok"  # done, granted, live
    WAITING = "waiting"  # someone has to act
    ACTIVE = "active"  # under way
    DANGER = "danger"  # declined, failed, needs staff
    NEUTRAL = "neutral"  # over, or not yet started


W, K, A, D, N = Tone.WAITING, Tone.OK, Tone.ACTIVE, Tone.DANGER, Tone.NEUTRAL

# Every state of every thing, by its enum's name and value. A state missing here shows as
# neutral; tests/test_ui.py fails for any state enum with a member missing.
TONES: dict[str, dict[str, Tone]] = {
    "MembershipStatus": {
        "awaiting_confirmation": W,
        "awaiting_approval": W,
        "member": K,
        "declined": D,
        "left": N,
    },
    "StaffRequestState": {"open": W, "granted": K, "declined": D, "withdrawn": N},
    "OrganisationStatus": {"approved": K, "lapsed": D, "applying": W, "declined": D},
    "ApplicationState": {
        "waiting_for_both": W,
        "waiting_for_chair": W,
        "waiting_for_board": W,
        "approved": K,
        "declined": D,
    },
    "ServiceState": {
        "requested": W,
        "approved": A,
        "declined": D,
        "provisioning": A,
        "active": K,
        "failed": D,
        "suspended": D,
        "drifted": D,
        "decommissioned": N,
    },
    "JobState": {"queued": W, "running": A, "succeeded": K, "failed": W, "dead": D},
    "NoticeState": {"open": W, "resolved": K},
    "SurveyState": {"draft": N, "open": A, "closed": K},
    "GoalStatus": {"planned": N, "in_progress": A, "done": K, "dropped": D},
    "MilestoneStatus": {"planned": N, "in_progress": A, "done": K, "slipped": D},
    "MailState": {"development": N, "pending": W, "sent": K, "failed": D},
    "Visibility": {"members": N, "staff": W, "public": A},
}


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """ "1 goal", "2 goals", "0 goals" ("1 reply", "3 replies" with ``nouns`` given)."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def tone_of(state: Any) -> Tone:
    """The tone of an enum member (any LabelledEnum state); neutral for anything else."""
    if isinstance(state, Enum):
        return TONES.get(type(state).__name__, {}).get(str(state.value), Tone.NEUTRAL)
    return Tone.NEUTRAL


class NavGroup(StrEnum):
    """The areas of the navigation, in the order they are shown."""

    ARCHIVES = "archives", "Archives"
    SERVICES = "services", "Services"
    SURVEYS = "surveys", "Surveys and goals"
    PEOPLE = "people", "People and organisations"
    SITE = "site", "Site"  # development and staff tools; shown last

    label: str

    def __new__(cls, value: str, label: str) -> NavGroup:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


Visible = Callable[[Any], bool]


@dataclass(frozen=True)
class NavLink:
    """One entry of the navigation, registered by the area that owns the page.

    ``visible(person)`` says who sees it (None: everyone); ``count`` names a key of the nav
    counts (``web.add_nav_counter``) shown beside it and added to the person's Work total,
    with ``count_label`` ("waiting") read by screen readers. ``current`` lists the endpoint
    prefixes for which the link is the current section (default: its own endpoint).
    """

    group: NavGroup
    label: str
    endpoint: str
    visible: Visible | None = None
    count: str | None = None
    count_label: str = "waiting"
    id: str | None = None
    order: int = 50
    current: tuple[str, ...] = field(default=())

    def match(self, endpoint: str | None) -> int:
        """How closely ``endpoint`` is this link's section: 0 not at all, more is closer."""
        if not endpoint:
            return 0
        if endpoint == self.endpoint:
            return 1000
        prefixes = self.current or (self.endpoint,)
        return max(
            (
                len(p)
                for p in prefixes
                if endpoint == p or (p.endswith(".") and endpoint.startswith(p))
            ),
            default=0,
        )


_NAV_LINKS = "infrawg_nav_links"
_NAV_HREFS = "infrawg_nav_hrefs"


def add_nav_links(app: Flask, links: Iterable[NavLink]) -> None:
    registered = app.extensions.setdefault(_NAV_LINKS, [])
    for link in links:
        if link not in registered:
            registered.append(link)


@dataclass
class ShownLink:
    link: NavLink
    href: str
    count: int
    current: bool


@dataclass
class ShownGroup:
    group: NavGroup
    links: list[ShownLink]

    @property
    def count(self) -> int:
        return sum(link.count for link in self.links)

    @property
    def current(self) -> bool:
        return any(link.current for link in self.links)


def _href(endpoint: str) -> str:
    """A nav link's address: the same on every page under one script root (the links take
    no arguments), so it is built once per root rather than by each request."""
    hrefs: dict[tuple[str, str], str] = current_app.extensions.setdefault(_NAV_HREFS, {})
    key = (request.script_root, endpoint)
    if key not in hrefs:
        hrefs[key] = url_for(endpoint)
    return hrefs[key]


def nav_groups(person: Any, counts: Mapping[str, int]) -> list[ShownGroup]:
    """The navigation this person sees, grouped by area, with counts and the current link."""
    endpoint = request.endpoint
    by_group: dict[NavGroup, list[ShownLink]] = {group: [] for group in NavGroup}
    links = sorted(current_app.extensions.get(_NAV_LINKS, ()), key=lambda link: link.order)
    best: tuple[int, ShownLink | None] = (0, None)
    for link in links:
        if link.visible is not None and not link.visible(person):
            continue
        if link.endpoint not in current_app.view_functions:
            continue  # a blueprint registered only in some configurations (the outbox)
        count = counts.get(link.count, 0) if link.count else 0
        shown = ShownLink(link, _href(link.endpoint), count, current=False)
        by_group[link.group].append(shown)
        # The closest section is the current one (Quarantine, not Archives, on the quarantine).
        if (closeness := link.match(endpoint)) > best[0]:
            best = (closeness, shown)
    if best[1] is not None:
        best[1].current = True
    return [ShownGroup(group, shown) for group, shown in by_group.items() if shown]


def work_total(counts: Mapping[str, int]) -> int:
    """Everything waiting for the person, for the Work entry (the keys the links show)."""
    keys = {link.count for link in current_app.extensions.get(_NAV_LINKS, ()) if link.count}
    return sum(value for key, value in counts.items() if key in keys)
