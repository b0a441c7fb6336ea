"""Write the demo list archive, ``infra.mbox.xz``: invented threads of an infrastructure
working group (a few hundred messages), deterministic, so the file can be checked against
this script (``tests/test_demo.py``).

    python -m infrawg.demo_data.archive            # rewrites infrawg/demo_data/infra.mbox.xz

What the archive holds on purpose, so that the demo shows each screen: threads with replies
and quoted text (folded on the thread page), a patch, senders with non-ASCII names (RFC 2047
encoded), a reply without References (threaded by its subject), messages over several
months (month browsing), and one message without any header field, which the import
quarantines (staff see it under Quarantine).
"""

from __future__ import annotations

import lzma
import random
import sys
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

from infrawg.demo_data import DEMO_ARCHIVE

LIST_ADDRESS = "infra@lists.example.org"
START = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
SEED = 15

# (display name, address): invented people, some with names outside ASCII.
PEOPLE = [
    ("Cleo Chair", "chair@example.org"),
    ("Sam Staff", "staff1@example.org"),
    ("Sasha Staff", "staff2@example.org"),
    ("Mia Member", "member1@example.org"),
    ("Milo Member", "member2@example.org"),
    ("Tara Tenant", "tenant1@example.org"),
    ("José Muñoz", "jose@example.net"),
    ("Zoë Ødegaard", "zoe@example.net"),
    ("Łukasz Wiśniewski", "lukasz@example.com"),
    ("Aiko Tanaka (田中愛子)", "aiko@example.jp"),
    ("Priya Raman", "priya@example.in"),
    ("Olu Adeyemi", "olu@example.ng"),
]

# Thread subjects with their opening paragraph.
TOPICS = [
    (
        "Renewing the wildcard certificate for docs",
        "The wildcard certificate for the docs "
        "hosts expires in three weeks. Shall we move it to the ACME renewals with the rest?",
    ),
    (
        "DNSSEC key rollover for packaging-wg.example.org",
        "The ZSK of the packaging zone is "
        "due for its rollover. I propose pre-publishing the new key on Monday.",
    ),
    (
        "Backup drill results, January",
        "The monthly restore drill ran last night: every "
        "server restored, the mail host took 41 minutes.",
    ),
    (
        "Moving the mail relay to the new VM",
        "The old relay runs an unsupported release. "
        "The new VM is ready; I would like to switch the MX on Thursday.",
    ),
    (
        "Monitoring: alert fatigue on disk usage",
        "We had 37 disk-usage alerts last week and "
        "none needed action. Can we raise the threshold to 90%?",
    ),
    (
        "Survey questions for this year",
        "Draft questions for the annual survey are in the "
        "site. Please comment before the end of the month.",
    ),
    (
        "Request: staging VM for Community Meetups",
        "Community Meetups asked for a small staging VM for their calendar site. 2 CPUs, 4 GB.",
    ),
    (
        "Chef cookbook review: meetups-calendar",
        "The cookbook is ready for review. It installs the app, a systemd unit and the nginx site.",
    ),
    (
        "Outage report: registry mirror, 14 February",
        "The mirror was down for 52 minutes "
        "after a disk filled with logs. Timeline and follow-ups below.",
    ),
    (
        "Retiring the old build farm",
        "Nobody has used the old build hosts since October. "
        "I suggest we switch them off at the end of the quarter.",
    ),
    (
        "Welcome to our new members",
        "Please welcome the three members who joined this "
        "month. The onboarding notes are on the wiki.",
    ),
    (
        "TLS for community domains registered elsewhere",
        "When the domain is not managed "
        "here the tenant has to approve the request first. How do we word the mail?",
    ),
    (
        "Milestones for the spring",
        "Here are the milestones I propose for March to May. Owners please confirm the dates.",
    ),
    (
        "IPv6 on the new hosts",
        "The provider now gives us a /56. Shall we enable IPv6 on the web hosts first?",
    ),
    (
        "Rate limits on the package index",
        "We saw bursts of 4000 requests per second from a single address range yesterday.",
    ),
    ("Documentation sprint in April", "A one-day sprint on the runbooks. Who can join?"),
    (
        "Secrets rotation schedule",
        "Every TSIG key and API token should rotate yearly. "
        "A calendar is attached to the milestone.",
    ),
    (
        "Upgrading PostgreSQL to 16",
        "The database hosts run 14. The upgrade needs about 20 minutes of read-only time.",
    ),
    (
        "Charter question: who approves a new service type?",
        "R9 says the chair may add new service types. Do we want a review by staff first?",
    ),
    (
        "Mirror bandwidth costs",
        "The bandwidth bill doubled in February. Most of it is "
        "the documentation mirror in one region.",
    ),
    (
        "Status page wording",
        "The status page says 'degraded' for planned maintenance. "
        "Can we add a 'maintenance' state?",
    ),
    (
        "Onboarding checklist for new staff",
        "A short checklist for new staff: keys, accounts, the on-call rota and the runbooks.",
    ),
    ("Log retention", "We keep web logs for 90 days. The privacy policy says 30."),
    (
        "Packaging WG: second DNS zone",
        "The Packaging WG would like a zone for their test index, test.packaging-wg.example.org.",
    ),
]

REPLIES = [
    "Sounds good to me. {detail}",
    "+1. {detail}",
    "I agree, with one caveat: {detail}",
    "Thanks for writing this up. {detail}",
    "Could we wait a week? {detail}",
    "Done, see the job log on the site. {detail}",
    "I had a look. {detail}",
    "Not opposed, but {detail}",
]

DETAILS = [
    "Let us note it in the milestone so it does not get lost.",
    "We should tell the tenant members before we start.",
    "The runbook needs an update afterwards.",
    "I can take this on Thursday afternoon.",
    "The monitoring check should go in first.",
    "Please keep the old record for a day, in case we need to roll back.",
    "I would like a second pair of eyes on the plan before it is applied.",
    "That matches what the survey answers asked for.",
    "Can someone check the capacity numbers first?",
    "The chair has the final say here (R9), so let us ask.",
    "It worked on the staging host without trouble.",
    "We did the same last year; the notes are in the archive.",
]

PATCH = """\
Here is the change to the backup schedule, as a patch against the cookbook:

diff --git a/attributes/default.rb b/attributes/default.rb
index 3f2a1c4..8b9d0e2 100644
--- a/attributes/default.rb
+++ b/attributes/default.rb
@@ -12,9 +12,10 @@
 default['backup']['repository'] = '/srv/restic'
-default['backup']['schedule'] = '0 3 * * *'
-default['backup']['keep_daily'] = 7
+default['backup']['schedule'] = '30 2 * * *'
+default['backup']['keep_daily'] = 14
+default['backup']['keep_weekly'] = 8
 default['backup']['keep_monthly'] = 12
 default['backup']['exclude'] = %w(/proc /sys /tmp)

Reviews welcome; I will apply it on Friday unless someone objects.
"""

# The one message the import cannot parse: no header field at all, only a body.
UNPARSEABLE = (
    b"   this line continues a header that never started\n"
    b"and the rest is a body without any header fields.\n"
)


def _quote(parent: EmailMessage) -> str:
    author = parent["From"].addresses[0].display_name
    body = parent.get_content().split("\n-- \n")[0]
    lines = [line for line in body.strip().splitlines() if not line.startswith(">")][:6]
    return f"On {parent['Date']}, {author} wrote:\n" + "\n".join(f"> {line}" for line in lines)


def _message(
    *,
    sender: tuple[str, str],
    subject: str,
    when: datetime,
    message_id: str,
    body: str,
    parent: EmailMessage | None,
    references: bool = True,
) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(sender[0], addr_spec=sender[1])
    message["To"] = LIST_ADDRESS
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = message_id
    message["List-Id"] = "Infrastructure WG <infra.lists.example.org>"
    if parent is not None:
        message["In-Reply-To"] = parent["Message-ID"]
        if references:
            chain = [*parent.get("References", "").split(), parent["Message-ID"]]
            message["References"] = " ".join(chain)
    message.set_content(body, cte="8bit")
    return message


def messages() -> list[tuple[datetime, bytes]]:
    """Every message of the demo archive, as (date, raw bytes), in date order."""
    rng = random.Random(SEED)
    out: list[tuple[datetime, EmailMessage]] = []
    count = 0
    for number, (subject, opening) in enumerate(TOPICS):
        when = START + timedelta(days=number * 5 + rng.randint(0, 3), minutes=rng.randint(0, 600))
        author = rng.choice(PEOPLE)
        count += 1
        body = f"Hello all,\n\n{opening}\n\n{rng.choice(DETAILS)}\n\n-- \n{author[0]}\n"
        if number == 7:
            body = f"Hello all,\n\n{opening}\n\n{PATCH}\n-- \n{author[0]}\n"
        root = _message(
            sender=author,
            subject=subject,
            when=when,
            message_id=f"<demo-{count}@lists.example.org>",
            body=body,
            parent=None,
        )
        out.append((when, root))
        thread = [root]
        for reply_number in range(rng.randint(8, 16)):
            parent = rng.choice(thread[-3:])
            when += timedelta(hours=rng.randint(1, 30), minutes=rng.randint(0, 59))
            parent_address = parent["From"].addresses[0].addr_spec
            replier = rng.choice([p for p in PEOPLE if p[1] != parent_address])
            count += 1
            text = rng.choice(REPLIES).format(detail=rng.choice(DETAILS))
            quoted = _quote(parent)
            reply = _message(
                sender=replier,
                subject="Re: " + subject,
                when=when,
                message_id=f"<demo-{count}@lists.example.org>",
                body=f"{quoted}\n\n{text}\n\n-- \n{replier[0]}\n",
                parent=parent,
                # One reply from a client that sends neither header: threaded by subject.
                references=not (number == 3 and reply_number == 2),
            )
            if number == 3 and reply_number == 2:
                del reply["In-Reply-To"]
            out.append((when, reply))
            thread.append(reply)
    out.sort(key=lambda pair: pair[0])
    return [(when, message.as_bytes(policy=SMTP.clone(linesep="\n"))) for when, message in out]


def mbox_bytes() -> bytes:
    """The whole archive as one mbox (mboxrd escaping), before compression."""
    parts: list[bytes] = []
    dated = messages()
    middle = dated[len(dated) // 2][0]
    dated.insert(len(dated) // 2, (middle, UNPARSEABLE))
    for when, raw in dated:
        envelope = f"From {LIST_ADDRESS} {when.strftime('%a %b %d %H:%M:%S %Y')}\n"
        body = b"\n".join(
            b">" + line if line.lstrip(b">").startswith(b"From ") else line
            for line in raw.split(b"\n")
        )
        parts.append(envelope.encode() + body.rstrip(b"\n") + b"\n\n")
    return b"".join(parts)


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else DEMO_ARCHIVE
    target.write_bytes(lzma.compress(mbox_bytes(), preset=9))
    print(f"wrote {target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
