"""R3 over a real SMTP server (aiosmtpd on loopback): the member receives the decision."""

from __future__ import annotations

import pytest

from tests.governance.test_staff import ask


@pytest.fixture
def app_config(smtp_config):
    return smtp_config


def test_r3_staff_decision_mail_arrives_over_smtp(app, client, people, member, chair, mailbox):
    staff_request = ask(client, people, member)
    assert (
        mailbox.wait_for(chair.email).subject == f"[Infra-WG] {member.name} asks for staff status"
    )
    decider = people.sign_in(app.test_client(), chair)
    decider.post(f"/chair/staff-requests/{staff_request.id}/grant", data={"reason": "Yes"})
    received = mailbox.wait_for(member.email)
    assert received.subject == "[Infra-WG] Your request for staff status was granted"
    assert "Reason: Yes" in received.body
