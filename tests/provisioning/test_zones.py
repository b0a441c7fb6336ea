"""R11: hosted zones in the UI — inline records, the plan before applying, DNSSEC on request,
the DS and NS records to set, the delegation check; end to end against a real BIND 9."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import dns.rdatatype
import pytest
from sqlalchemy import func, select

from infrawg.audit import AuditEvent
from infrawg.extensions import db
from infrawg.jobs import runner as jobs
from infrawg.jobs.models import Job, JobState
from infrawg.provisioning.kinds.dns.models import DnsRecord, DnsZone
from infrawg.provisioning.kinds.dns.names import ds_records
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from infrawg.provisioning.service import provider_for
from tests.conftest import html, outbox_to
from tests.servers.bind import BindServer, ZoneConf

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def tenant(client, people, tenant_member, organisation):
    return people.sign_in(client, tenant_member)


@pytest.fixture
def chair_client(app, people, chair):
    return people.sign_in(app.test_client(), chair)


def provision(tenant, chair_client, organisation, service_type, zone, dnssec=False) -> Service:
    """A tenant member asks for the zone, the chair approves, the job runs (table runner)."""
    data = {"organisation": organisation.id, "service_type": service_type.id, "zone": zone}
    if dnssec:
        data["dnssec"] = "y"
    assert tenant.post("/services/request", data=data).status_code == 303
    service = db.session.scalar(select(Service).order_by(Service.id.desc()))
    assert chair_client.post(f"/services/{service.id}/decide/approve").status_code == 303
    jobs.run_due_jobs()
    return service


def record(service: Service, name: str, rdtype: str) -> DnsRecord | None:
    return db.session.scalar(
        select(DnsRecord).where(
            DnsRecord.zone_id == DnsZone.id,
            DnsZone.service_id == service.id,
            DnsRecord.name == name,
            DnsRecord.rdtype == rdtype,
        )
    )


def add(client, service, name, rdtype, values, ttl="300"):
    return client.post(
        f"/services/{service.id}/records",
        data={"name": name, "rdtype": rdtype, "ttl": ttl, "values": values},
        htmx=True,
    )


def apply_reviewed_plan(client, service) -> str:
    """Open the plan page, read the diff, press "Apply these changes"; returns the diff."""
    page = html(client.get(f"/services/{service.id}/plan"))
    diff = page.select_one("#plan").text
    reviewed = page.select_one("input[name=reviewed]")["value"]
    response = client.post(f"/services/{service.id}/apply", data={"reviewed": reviewed})
    assert response.status_code == 303, response.get_data(as_text=True)[-800:]
    return diff


def zone_count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# -- records in the UI, on the zonefile provider -------------------------------------------------


@pytest.fixture
def zone(tenant, chair_client, organisation, dns_type) -> Service:
    service = provision(tenant, chair_client, organisation, dns_type, "docs.example.org")
    assert service.state == ServiceState.ACTIVE
    return service


def test_r11_records_are_added_edited_and_deleted_as_inline_rows(tenant, zone):
    response = add(tenant, zone, "www", "A", "192.0.2.10\n192.0.2.11")
    assert response.status_code == 303
    fragment = html(tenant.get(f"/services/{zone.id}", headers={"HX-Request": "true"}))
    assert fragment.select_one("div#records") and not fragment.select_one("html")
    www = record(zone, "www.docs.example.org.", "A")
    assert www.values == ["192.0.2.10", "192.0.2.11"]
    row = fragment.select_one(f"#record-{www.id}")
    assert [c.text for c in row.select("code")] == ["192.0.2.10", "192.0.2.11"]

    fragment = html(
        tenant.get(f"/services/{zone.id}/records/{www.id}/edit", headers={"HX-Request": "true"})
    )
    assert (
        fragment.select_one(f"#record-{www.id}.editing textarea").text == "192.0.2.10\n192.0.2.11"
    )
    for field in fragment.select(f"#record-{www.id} input[id], #record-{www.id} textarea"):
        assert fragment.select_one(f"label[for={field['id']}]")
    response = tenant.post(
        f"/services/{zone.id}/records/{www.id}",
        data={"ttl": "600", "values": "192.0.2.12"},
        htmx=True,
    )
    assert response.status_code == 303
    assert (www.ttl, www.values) == (600, ["192.0.2.12"])

    # Deleting asks first, in the row; nothing is deleted until the answer is posted.
    delete_url = f"/services/{zone.id}/records/{www.id}/delete"
    asked = tenant.post(delete_url, htmx=True)
    assert asked.status_code == 200
    question = html(asked).select_one(f"#record-{www.id} form")
    assert "Delete www.docs.example.org. A?" in question.select_one(".confirm").text
    assert question.select_one("input[name=confirmed]")["value"] == "1"
    assert record(zone, "www.docs.example.org.", "A") is not None
    assert tenant.post(delete_url, data={"confirmed": "1"}).status_code == 303
    assert record(zone, "www.docs.example.org.", "A") is None
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("dns.%")).order_by(AuditEvent.id)
    ).all()
    assert actions == ["dns.record_added", "dns.record_changed", "dns.record_deleted"]


@pytest.mark.parametrize(
    ("name", "rdtype", "values", "ttl", "message"),
    [
        ("www", "A", "not-an-address", "300", "www.docs.example.org. A 'not-an-address':"),
        (
            "mail",
            "MX",
            "mail.example.org.",
            "300",
            "mail.docs.example.org. MX 'mail.example.org.':",
        ),
        ("www", "A", "192.0.2.1", "soon", "TTL must be a whole number of seconds"),
        ("www", "BOGUS", "1", "300", "is not a DNS record type"),
        ("@", "SOA", "x", "300", "managed by the server"),
        ("www.other.org.", "A", "192.0.2.1", "300", "outside the zone"),
        ("www", "A", "", "300", "needs at least one value"),
        ("@", "CNAME", "www", "300", "has a CNAME, so it cannot have other records"),
        ("@", "NS", "ns9.example.net.", "300", "apex NS records are the site's name servers"),
        ("www", "TXT", '"unterminated', "300", "www.docs.example.org. TXT"),
    ],
)
def test_r11_a_bad_record_shows_the_parsers_message_and_nothing_changes(
    tenant, zone, name, rdtype, values, ttl, message
):
    before = zone_count(DnsRecord)
    response = add(tenant, zone, name, rdtype, values, ttl)
    assert response.status_code in (409, 422)
    errors = html(response).select_one("#values-errors").text
    assert message in errors
    assert zone_count(DnsRecord) == before


def test_r11_a_record_posted_without_name_or_type_gets_a_form_error(tenant, zone):
    before = zone_count(DnsRecord)
    for data in ({"rdtype": "A", "values": "192.0.2.1"}, {"name": "www", "values": "x"}, {}):
        response = tenant.post(f"/services/{zone.id}/records", data=data, htmx=True)
        assert response.status_code == 422, data
        assert html(response).select_one("#values-errors").text.strip(), data
    assert zone_count(DnsRecord) == before


def test_r11_the_record_type_is_a_select_of_the_supported_types(tenant, zone):
    page = html(tenant.get(f"/services/{zone.id}"))
    select_ = page.select_one("#add-record select#rdtype")
    types = [option["value"] for option in select_.select("option")]
    assert {"A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA"} <= set(types)
    assert not {"SOA", "RRSIG", "DNSKEY", "NSEC"} & set(types)  # the server's own
    assert page.select_one("label[for=rdtype]").text == "Type"

    response = add(tenant, zone, "mail", "MX", "10 mx.example.net.")
    assert response.status_code == 303
    assert record(zone, "mail.docs.example.org.", "MX").values == ["10 mx.example.net."]


def test_r11_a_record_valid_alone_that_breaks_the_zone_is_refused(tenant, zone):
    assert add(tenant, zone, "docs", "A", "192.0.2.1").status_code == 303
    response = add(tenant, zone, "docs", "CNAME", "www")
    assert response.status_code == 422
    assert "has a CNAME, so it cannot have other records" in html(response).text
    assert record(zone, "docs.docs.example.org.", "CNAME") is None


def test_r11_an_edit_with_a_bad_value_keeps_the_row_in_edit_mode(tenant, zone):
    add(tenant, zone, "www", "AAAA", "2001:db8::1")
    aaaa = record(zone, "www.docs.example.org.", "AAAA")
    response = tenant.post(
        f"/services/{zone.id}/records/{aaaa.id}", data={"ttl": "300", "values": "192.0.2.1"}
    )
    assert response.status_code == 422
    page = html(response)
    assert page.select_one(f"#record-{aaaa.id}.editing")
    assert "192.0.2.1" in page.select_one(f"#values-{aaaa.id}-errors").text
    assert aaaa.values == ["2001:db8::1"]


def test_r11_the_apex_ns_cannot_be_edited_here(tenant, zone):
    ns = record(zone, "docs.example.org.", "NS")
    assert tenant.post(f"/services/{zone.id}/records/{ns.id}/delete").status_code == 400
    assert record(zone, "docs.example.org.", "NS") is not None


def test_r11_another_organisations_member_cannot_see_or_edit_the_zone(app, people, member, zone):
    other = people.sign_in(app.test_client(), member)
    assert other.get(f"/services/{zone.id}").status_code == 404
    assert add(other, zone, "evil", "A", "192.0.2.66").status_code == 404
    assert record(zone, "evil.docs.example.org.", "A") is None


def test_r11_records_wait_until_the_zone_is_provisioned(tenant, organisation, dns_type):
    tenant.post(
        "/services/request",
        data={
            "organisation": organisation.id,
            "service_type": dns_type.id,
            "zone": "x.example.org",
        },
    )
    service = db.session.scalar(select(Service))
    response = add(tenant, service, "www", "A", "192.0.2.1")
    assert response.status_code == 409
    assert "once the zone is provisioned" in html(response).text


def test_r11_the_plan_is_shown_before_anything_is_applied(tenant, zone):
    provider = provider_for("zonefile")
    add(tenant, zone, "www", "A", "192.0.2.10")
    assert provider.read(zone.name).state.get("www.docs.example.org.", "A") is None
    page = html(tenant.get(f"/services/{zone.id}/plan"))
    diff = page.select_one("#plan").text
    assert "1 to create" in diff and "+ www.docs.example.org. A" in diff and "192.0.2.10" in diff
    assert zone_count(Job) == 1  # only the provisioning job: reviewing applies nothing

    # A plan reviewed before another edit is refused; nothing is queued.
    reviewed = page.select_one("input[name=reviewed]")["value"]
    add(tenant, zone, "mail", "A", "192.0.2.25")
    response = tenant.post(f"/services/{zone.id}/apply", data={"reviewed": reviewed})
    assert response.status_code == 409
    assert "changed since you reviewed the plan" in html(response).text
    assert zone_count(Job) == 1

    diff = apply_reviewed_plan(tenant, zone)
    assert "2 to create" in diff
    jobs.run_due_jobs()
    state = provider.read(zone.name).state
    assert state.get("www.docs.example.org.", "A").values == ("192.0.2.10",)
    assert state.get("mail.docs.example.org.", "A").values == ("192.0.2.25",)
    applied = db.session.scalar(select(Job).order_by(Job.id.desc()))
    assert applied.state == JobState.SUCCEEDED and "2 to create" in applied.plan
    # In sync now: nothing to apply.
    assert (
        html(tenant.get(f"/services/{zone.id}/plan"))
        .select_one("#plan")
        .text.endswith("in sync, nothing to do")
    )


def test_the_tenant_follows_the_dns_change_they_applied_live_on_the_service_page(tenant, zone):
    add(tenant, zone, "www", "A", "192.0.2.10")
    apply_reviewed_plan(tenant, zone)
    applying = db.session.scalar(select(Job).order_by(Job.id.desc()))
    following = html(tenant.get(f"/services/{zone.id}")).select_one("#service-progress section")
    # The page asks the job's progress again every 2 s while the change is applied...
    assert following["hx-get"] == f"/jobs/{applying.id}/progress"
    assert "every 2s" in following["hx-trigger"]
    assert "Queued" in following.text
    jobs.run_due_jobs()
    # ...and the fragment of the finished job carries no trigger: the polling stops.
    done = html(tenant.get(f"/jobs/{applying.id}/progress", headers={"HX-Request": "true"}))
    assert "Succeeded" in done.text and done.select_one("section").get("hx-trigger") is None
    assert html(tenant.get(f"/services/{zone.id}")).select_one("#service-progress") is None


def test_r11_dnssec_on_request_and_the_tenant_sees_ds_and_ns_records_to_set(tenant, zone):
    page = html(tenant.get(f"/services/{zone.id}"))
    assert [li.text for li in page.select("#ns-records li")] == [
        "ns1.example.net.",
        "ns2.example.net.",
    ]
    assert not page.select("#ds-records li")
    response = tenant.post(f"/services/{zone.id}/dnssec", data={"dnssec": "y"})
    assert response.status_code == 303
    assert "~ dnssec" in apply_reviewed_plan(tenant, zone)
    jobs.run_due_jobs()
    provider = provider_for("zonefile")
    keys = provider.read(zone.name).detail["dnskeys"]
    assert any(k.startswith("257 ") for k in keys)
    page = html(tenant.get(f"/services/{zone.id}"))
    shown = [li.text for li in page.select("#ds-records li")]
    assert shown == [f"docs.example.org. IN DS {ds}" for ds in ds_records(zone.name, keys)]
    assert " 13 2 " in shown[0]  # ECDSAP256SHA256, digest type 2 (SHA-256)
    assert all(c.ok for c in provider.verify(provider.read(zone.name).state))


# -- end to end against BIND 9 (RFC 2136), on the table runner and on RQ --------------------------


@pytest.fixture
def bind_type(app, chair, rfc2136_config, zonefile_settings) -> ServiceType:
    app.config["PROVIDERS"] = {
        "bind": {"provider": "rfc2136", **rfc2136_config},
        "zonefile": zonefile_settings,
    }
    service_type = ServiceType(
        name="DNS on BIND", kind="dns", provider="bind", capacity=None, created_by_id=chair.id
    )
    db.session.add(service_type)
    db.session.commit()
    return service_type


@pytest.fixture(params=["table", "rq"])
def runner_kind(request, app) -> Iterator[str]:
    if request.param == "rq":
        queue_name = f"infrawg-test-{secrets.token_hex(6)}"
        app.config.update(REDIS_URL=REDIS_URL, RQ_QUEUE=queue_name)
        yield "rq"
        jobs.rq_queue(REDIS_URL, queue_name).delete(delete_jobs=True)
    else:
        yield "table"


def run_jobs(app, runner_kind: str) -> None:
    if runner_kind == "rq":
        from rq import SimpleWorker

        queue = jobs.rq_queue(REDIS_URL, app.config["RQ_QUEUE"])
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    else:
        jobs.run_due_jobs()


def answer(bind: BindServer, name: str, rdtype: str) -> set[str]:
    response = bind.query(name, rdtype)
    return {
        rd.to_text()
        for rrset in response.answer
        for rd in rrset
        if rrset.rdtype == dns.rdatatype.from_text(rdtype)
    }


def test_r11_tenant_requests_a_zone_on_bind_edits_records_turns_on_dnssec_and_sees_ds_and_ns(
    app, bind, bind_zone, tenant, chair_client, organisation, bind_type, runner_kind, tenant_member
):
    zone_name = bind_zone()
    data = {"organisation": organisation.id, "service_type": bind_type.id, "zone": zone_name}
    assert tenant.post("/services/request", data=data).status_code == 303
    service = db.session.scalar(select(Service))
    assert chair_client.post(f"/services/{service.id}/decide/approve").status_code == 303
    run_jobs(app, runner_kind)
    assert service.state == ServiceState.ACTIVE, service.state_reason
    # The server already served the zone: its NS and glue were taken in, nothing changed.
    ns1 = f"ns1.{zone_name}"
    assert record(service, zone_name, "NS").values == [ns1]
    provisioning_job = db.session.scalar(select(Job))
    assert "in sync, nothing to do" in provisioning_job.plan

    assert add(tenant, service, "www", "A", "192.0.2.80").status_code == 303
    assert "+ www." in apply_reviewed_plan(tenant, service)
    run_jobs(app, runner_kind)
    assert answer(bind, f"www.{zone_name}", "A") == {"192.0.2.80"}

    assert tenant.post(f"/services/{service.id}/dnssec", data={"dnssec": "y"}).status_code == 303
    page = html(tenant.get(f"/services/{service.id}"))
    assert [li.text for li in page.select("#ns-records li")] == [ns1]
    keys = [rd.to_text() for rd in bind.query(zone_name, "DNSKEY").answer[0]]
    assert [li.text for li in page.select("#ds-records li")] == [
        f"{zone_name} IN DS {ds}" for ds in ds_records(zone_name, keys)
    ]
    assert any("Active" in m.subject for m in outbox_to(tenant_member.email))


def test_r11_a_zone_the_server_does_not_serve_fails_with_a_clear_message(
    app, bind, tenant, chair_client, organisation, bind_type, staff, people
):
    provision(tenant, chair_client, organisation, bind_type, "unknown.infrawg.test")
    service = db.session.scalar(select(Service))
    assert service.state == ServiceState.FAILED
    assert "add the zone to the server's configuration" in service.state_reason
    job_row = db.session.scalar(select(Job))
    assert job_row.state == JobState.DEAD and job_row.attempts == 1
    page = html(people.sign_in(app.test_client(), staff).get(f"/services/{service.id}"))
    assert "Gave up" in page.select_one("#service-jobs").text


# -- the delegation check against a real parent zone ----------------------------------------------


@pytest.fixture
def parent(bind: BindServer) -> Iterator[BindServer]:
    """parent.test delegating `good` correctly (NS and DS) and `bad` to a stranger."""
    keys = [k.to_text() for k in bind.query("good.parent.test.", "DNSKEY").answer[0]]
    text = "\n".join(
        [
            "$ORIGIN parent.test.",
            "$TTL 300",
            "@ SOA ns1 hostmaster 1 3600 600 86400 300",
            "@ NS ns1",
            "ns1 A 127.0.0.1",
            "good NS ns1.good",
            "ns1.good A 127.0.0.1",
            *[f"good DS {ds}" for ds in ds_records("good.parent.test.", keys)],
            "bad NS ns9.example.net.",
            "",
        ]
    )
    with BindServer([ZoneConf("parent.test.", dynamic=False, text=text)]) as server:
        yield server


@pytest.mark.parametrize(
    ("zone_name", "expected"),
    [
        ("good.parent.test", ["The delegation is right"]),
        (
            "bad.parent.test",
            [
                "set the name servers (NS) of bad.parent.test. to: ns1.bad.parent.test.",
                "Remove these name servers: ns9.example.net.",
                "add the DS record for bad.parent.test.",
            ],
        ),
    ],
)
def test_r11_delegation_check_shows_whether_parent_ns_and_ds_match_and_how_to_fix(
    app, bind, parent, tenant, chair_client, organisation, bind_type, zone_name, expected
):
    app.config["DNS_PARENT_SERVERS"] = f"{parent.host}:{parent.port}"
    service = provision(tenant, chair_client, organisation, bind_type, zone_name, dnssec=True)
    assert service.state == ServiceState.ACTIVE, service.state_reason
    response = tenant.post(f"/services/{service.id}/delegation", htmx=True)
    assert response.status_code == 200
    assert "being checked" in html(response).select_one("#delegation").text
    jobs.run_due_jobs()
    page = html(tenant.get(f"/services/{service.id}"))
    assert page.select_one("h1").text == service.name
    box = page.select_one("#delegation").text
    for sentence in expected:
        assert sentence in box
    # Without htmx the check is queued again and the page says so after the redirect.
    again = tenant.post(f"/services/{service.id}/delegation")
    assert again.status_code == 303
    jobs.run_due_jobs()
    assert expected[0] in html(tenant.get(f"/services/{service.id}")).select_one("#delegation").text


def test_r11_delegation_check_never_holds_a_request_and_runs_once_per_service(
    app, bind, tenant, chair_client, organisation, bind_type
):
    # A parent that never answers (TEST-NET-1): the request still returns at once.
    app.config["DNS_PARENT_SERVERS"] = "192.0.2.1:53"
    service = provision(tenant, chair_client, organisation, bind_type, "bad.parent.test")
    assert service.state == ServiceState.ACTIVE, service.state_reason
    started = time.monotonic()
    first = tenant.post(f"/services/{service.id}/delegation", htmx=True)
    second = tenant.post(f"/services/{service.id}/delegation", htmx=True)
    assert time.monotonic() - started < 2.0
    assert first.status_code == second.status_code == 200
    checks = db.session.scalars(
        select(Job).where(Job.kind == "check_delegation", Job.subject_id == service.id)
    ).all()
    assert len(checks) == 1  # asking again while one waits does not queue another
    jobs.run_due_jobs()
    box = html(tenant.get(f"/services/{service.id}")).select_one("#delegation").text
    assert "192.0.2.1:53 did not answer" in box
