"""Data the demo (`flask infrawg demo`, what `make run` loads) ships with the package, so
the demo needs nothing outside the repository.

``infra.mbox.xz`` is the demo list archive: written by ``python -m infrawg.demo_data.archive``
(deterministic: the same file content every run), invented threads of an infrastructure
working group, no real person's mail.
"""

from __future__ import annotations

from pathlib import Path

DEMO_ARCHIVE = Path(__file__).resolve().parent / "infra.mbox.xz"
