"""A real Mailman 3 core for the list tests: one server, one domain and one list per run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.mailman import MailmanServer

LIST_ADDRESS = "infra@lists.example.org"


@pytest.fixture(scope="session")
def mailman_server(smtp_server) -> Iterator[MailmanServer]:
    server = MailmanServer(smtp_port=smtp_server.port).start()
    try:
        # The list as the README asks: moderated subscription, private archives, no
        # welcome or goodbye from Mailman (the site sends both).
        server.list_id = server.create_list(
            LIST_ADDRESS,
            subscription_policy="moderate",
            archive_policy="private",
            send_welcome_message=False,
            send_goodbye_message=False,
        )
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def mailman(mailman_server) -> MailmanServer:
    """The server with the list's roster and held subscriptions emptied before the test."""
    list_id = mailman_server.list_id
    for email in mailman_server.roster(list_id):
        mailman_server.call("DELETE", f"lists/{list_id}/member/{email}")
    held = mailman_server.call("GET", f"lists/{list_id}/requests").json().get("entries", [])
    for entry in held:
        mailman_server.call(
            "POST", f"lists/{list_id}/requests/{entry['token']}", data={"action": "discard"}
        )
    return mailman_server
