"""Mail through a real SMTP server (aiosmtpd on loopback): sent only after commit."""

from __future__ import annotations

import pytest

from infrawg.membership.models import MembershipStatus
from tests.conftest import link_in, outbox_to

JOIN = {
    "name": "Grace",
    "email": "grace@example.org",
    "password": "correct horse battery",
    "foundation_member": "y",
}


@pytest.fixture
def app_config(smtp_config):
    return smtp_config


def test_confirmation_mail_arrives_over_smtp_and_its_link_works(client, mailbox):
    client.post("/join", data=JOIN)
    received = mailbox.wait_for("grace@example.org")
    assert received.subject == "[Infra-WG] Confirm your email"
    assert outbox_to("grace@example.org") == []
    response = client.post(link_in(received.body, "/join/confirm/"), follow_redirects=True)
    assert response.status_code == 200


def test_refused_act_sends_no_mail(client, mailbox, member):
    # The join is refused after validation (duplicate email): nothing committed, nothing sent.
    client.post("/join", data=JOIN | {"email": member.email})
    client.post("/join", data=JOIN)
    mailbox.wait_for("grace@example.org")
    assert mailbox.to(member.email) == []


def test_approval_mail_reaches_the_applicant(client, people, staff, applicant, mailbox):
    people.sign_in(client, staff)
    client.post(f"/membership/applications/{applicant.id}/approve", data={"reason": "Known"})
    assert applicant.status == MembershipStatus.MEMBER
    assert mailbox.wait_for(applicant.email).subject == "[Infra-WG] Welcome to the Infra-WG"
