"""Demo data of the archives: the demo archive shipped in the package
(``infrawg/demo_data/infra.mbox.xz``, invented threads) as the list ``infra`` (members
only), imported through the same function as any import. One of its messages cannot be
parsed and lands in the quarantine."""

from __future__ import annotations

from typing import Any

import click

from infrawg.archives.ingest import archive_dir
from infrawg.archives.mbox import iter_mbox
from infrawg.archives.models import Visibility
from infrawg.archives.store import Incoming, get_or_create_list, publish_list, store_messages
from infrawg.demo_data import DEMO_ARCHIVE
from infrawg.extensions import db

DEMO_LIST = "infra"


def load_demo(people: dict[str, Any]) -> None:
    """Import the demo archive into the demo list."""
    mailing_list = get_or_create_list(db.session(), DEMO_LIST)
    assert mailing_list.visibility == Visibility.MEMBERS  # R16: members only
    mailing_list.description = (
        "The working group's own list: mirrors, DNS, certificates, servers and the "
        "decisions about them. Members only."
    )
    batch = [Incoming(m.raw, f"{DEMO_ARCHIVE.name}#{m.index + 1}") for m in iter_mbox(DEMO_ARCHIVE)]
    result = store_messages(
        db.session(), mailing_list, batch, archive_dir=archive_dir(), publish=False
    )
    publish_list(db.session(), mailing_list)
    click.echo(
        f"Archives demo: list {DEMO_LIST!r} (members only) with {result.imported} messages,"
        f" {result.quarantined} quarantined."
    )
