"""Where the areas meet: blinker signals one area sends and others connect to.

An area that must react to another's event connects a handler in its own ``init_app(app)``
with :func:`connect`; the sending area never imports the receiving one. A handler is
connected for that app only (blinker's ``sender``): the tests build many apps in one
process, and a handler connected by one app never runs for another, nor twice for the same
app (blinker keeps each receiver once per sender, and drops them with the app).

Handlers run in the sender's transaction, in no fixed order, so each is independent of the
others. One that raises a ``DomainError`` refuses the act for everyone (``member_leaving``:
R4, the last tenant member of an organisation cannot leave the group); the sender sends
the vetoable signal before it changes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from blinker import Namespace, Signal
from flask import Flask, current_app

_signals = Namespace()

member_leaving = _signals.signal(
    "member-leaving",
    doc="A member is about to leave the group (``person``); raise a DomainError to refuse.",
)
member_left = _signals.signal(
    "member-left",
    doc="A member left the group (``person``, ``reason``): end what counted only for members.",
)
charter_ended = _signals.signal(
    "charter-ended",
    doc="R7: a WG's charter lapsed or was revoked (``organisation``, ``actor``, ``reason``).",
)
organisation_recognised = _signals.signal(
    "organisation-recognised",
    doc="R8: the chair and the board recognised an organisation as a CO; it is eligible again "
    "(``organisation``, ``actor``, ``reason``).",
)
service_state_changed = _signals.signal(
    "service-state-changed",
    doc="A service moved from ``old`` to ``new`` state (``service``, ``actor``, ``reason``).",
)

Handler = Callable[..., Any]


def connect(app: Flask, signal: Signal, handler: Handler) -> None:
    """Run ``handler(app, **data)`` when ``signal`` is sent within ``app``."""
    # weak=False: a handler may be a closure nobody else holds; the app, not the handler,
    # decides how long the connection lives.
    signal.connect(handler, sender=app, weak=False)


def send(signal: Signal, **data: Any) -> None:
    """Send ``signal`` for the current app; a handler's DomainError reaches the caller."""
    # The app itself, not the proxy: blinker matches senders by identity (the proxy's
    # method is not in Flask's type information).
    signal.send(current_app._get_current_object(), **data)  # type: ignore[attr-defined]
