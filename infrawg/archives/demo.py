"""Demo data of the archives: the first messages of the linux-i2c corpus as the list
``infra`` (members only), imported through the same function as any import."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import click

from infrawg.archives.ingest import archive_dir
from infrawg.archives.mbox import iter_mbox
from infrawg.archives.models import Visibility
from infrawg.archives.store import Incoming, get_or_create_list, publish_list, store_messages
from infrawg.extensions import db

CORPUS = Path(__file__).resolve().parents[2].parent / "shared/corpus/linux-i2c-10k.mbox.xz"
DEMO_LIST = "infra"
DEMO_MESSAGES = 500


def load_demo(people: dict[str, Any]) -> None:
    """Import a slice of the corpus into the demo list; skipped when the corpus is absent."""
    if not CORPUS.is_file():
        click.echo(f"Archives demo: {CORPUS} not found; no archive loaded.")
        return
    mailing_list = get_or_create_list(db.session(), DEMO_LIST)
    assert mailing_list.visibility == Visibility.MEMBERS  # R16: members only
    batch = [
        Incoming(m.raw, f"demo#{m.index + 1}")
        for m in itertools.islice(iter_mbox(CORPUS), DEMO_MESSAGES)
    ]
    result = store_messages(
        db.session(), mailing_list, batch, archive_dir=archive_dir(), publish=False
    )
    publish_list(db.session(), mailing_list)
    click.echo(f"Archives demo: list {DEMO_LIST!r} (members only) with {result.imported} messages.")
