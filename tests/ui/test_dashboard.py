"""Issue 15 part 3: each person's dashboard starts with the work waiting for them, then their
organisation's services with their state, then the rest; hidden tools get a way in."""

from __future__ import annotations

from infrawg.extensions import db
from infrawg.membership.models import MembershipStatus
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from tests.conftest import html, make_organisation


def _section_ids(page) -> list[str]:
    return [section.get("id") for section in page.select("main > section, main > p.lead")]


def test_the_dashboard_leads_with_what_waits_for_the_person(client, people, staff):
    people.make("Ada Applicant", status=MembershipStatus.AWAITING_APPROVAL)
    db.session.commit()
    people.sign_in(client, staff)
    page = html(client.get("/dashboard"))
    ids = _section_ids(page)
    assert ids[0] == "waiting"
    assert ids.index("waiting") < ids.index("membership-status") < ids.index("for-members")
    assert "1 membership application " in page.select_one("#waiting").text


def test_a_member_with_nothing_waiting_is_told_so_first(client, people, member):
    people.sign_in(client, member)
    page = html(client.get("/dashboard"))
    assert _section_ids(page)[0] == "nothing-waiting"
    assert page.select_one("#waiting") is None


def test_a_tenant_member_sees_their_organisations_services_with_their_state(
    client, people, tenant_member, chair
):
    organisation = make_organisation("Docs WG", tenant_member)
    other = make_organisation("Other WG", people.make("Olga Other"))
    dns = ServiceType(name="DNS hosting", kind="dns", provider="zonefile", created_by_id=chair.id)
    db.session.add(dns)
    db.session.flush()

    def service(org, name, state):
        item = Service(
            organisation_id=org.id,
            service_type_id=dns.id,
            name=name,
            state=state,
            requested_by_id=tenant_member.id,
        )
        db.session.add(item)
        return item

    mine = service(organisation, "docs.example.org", ServiceState.ACTIVE)
    service(organisation, "old.example.org", ServiceState.DECOMMISSIONED)
    service(other, "other.example.org", ServiceState.ACTIVE)
    db.session.commit()
    people.sign_in(client, tenant_member)
    page = html(client.get("/dashboard"))

    ids = _section_ids(page)
    assert ids.index("my-services") < ids.index("for-members")
    rows = page.select("#my-services li")
    assert [row["id"] for row in rows] == [f"my-service-{mine.id}"]
    assert rows[0].select_one("a")["href"] == f"/services/{mine.id}"
    assert rows[0].select_one(".tag").text == ServiceState.ACTIVE.label
    assert page.select_one("#my-services a[href='/services/request']").text == "Request a service"


def test_someone_of_no_organisation_has_no_services_section(client, people, member):
    people.sign_in(client, member)
    assert html(client.get("/dashboard")).select_one("#my-services") is None


def test_the_list_drift_report_and_the_roster_are_linked_from_the_dashboard_of_who_may_use_them(
    client, people, staff, chair, member
):
    people.sign_in(client, chair)
    links = {a["href"] for a in html(client.get("/dashboard")).select("#for-members a")}
    assert {"/membership/drift", "/membership/roster"} <= links

    people.sign_in(client, staff)
    links = {a["href"] for a in html(client.get("/dashboard")).select("#for-members a")}
    assert "/membership/drift" in links and "/membership/roster" not in links

    people.sign_in(client, member)
    links = {a["href"] for a in html(client.get("/dashboard")).select("#for-members a")}
    assert not {"/membership/drift", "/membership/roster"} & links
