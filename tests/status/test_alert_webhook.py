"""The monitoring's alert webhook (R13, R5): Alertmanager posts its version 4 payload to
POST /status/alerts with a bearer token; a firing alert about a service opens an incident
notice on it (once, however often Alertmanager repeats it) and tells its tenant members, and
the alert's resolution resolves that notice."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from infrawg.extensions import db
from infrawg.status import service as notices
from infrawg.status.models import ImpactNotice, NoticeKind, NoticeState
from tests.conftest import outbox_to

TOKEN = "alert-webhook-test-token"


@pytest.fixture
def app_config() -> dict:
    return {"ALERT_WEBHOOK_TOKEN": TOKEN}


def payload(service, status: str, *, service_label: str | None = None) -> dict:
    """Alertmanager's webhook body (version 4) for one alert on `service`'s server."""
    alert = {
        "status": status,
        "labels": {
            "alertname": "InstanceDown",
            "severity": "critical",
            "instance": "web1.vms.infrawg.test:9100",
            "organisation": str(service.organisation_id),
            "service": service_label or str(service.id),
        },
        "annotations": {"summary": "web1 is down", "description": "node exporter unreachable"},
        "startsAt": "2026-12-02T07:00:00.123456789Z",
        "endsAt": "2026-12-02T07:20:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "a1b2c3d4e5f60718",
    }
    return {
        "version": "4",
        "groupKey": '{}:{alertname="InstanceDown"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "infrawg",
        "groupLabels": {"alertname": "InstanceDown"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert],
    }


def post(client, body: dict, token: str | None = TOKEN):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    # No CSRF token: Alertmanager has none, the route is exempt.
    return client.post("/status/alerts", data=json.dumps(body), headers=headers, csrf=False)


def test_r13_alert_webhook_opens_and_resolves_an_incident(app, people, staff, tenants):
    client = app.test_client()
    service = tenants.service_a

    # A wrong or missing token is refused before the body is read; nothing is opened.
    assert post(client, payload(service, "firing"), token="wrong").status_code == 401
    assert post(client, payload(service, "firing"), token=None).status_code == 401
    assert post(client, {"version": "3", "alerts": []}).status_code == 400

    response = post(client, payload(service, "firing"))
    assert response.status_code == 200, response.text
    [notice_id] = response.json["opened"]
    notice = notices.get_notice(notice_id)
    assert notice.kind == NoticeKind.INCIDENT and notice.state == NoticeState.OPEN
    assert notice.incident_key.startswith("a1b2c3d4e5f60718@2026-12-02T07:00:00")
    assert [ns.service_id for ns in notice.services] == [service.id]
    # R5: the service's tenant members are told, the other organisation's only member is not.
    assert {m.subject for m in outbox_to("ann@example.org")} == {
        "[Infra-WG] Incident: InstanceDown: alpha-zone.example.org."
    }
    assert len(outbox_to("abe@example.org")) == 1
    assert outbox_to("bea@example.org") == []

    # Alertmanager repeats a firing alert: the same incident, no second notice or mail.
    again = post(client, payload(service, "firing"))
    assert again.json == {"opened": [], "resolved": [], "unchanged": 1, "ignored": 0}
    assert db.session.scalar(select(func.count()).select_from(ImpactNotice)) == 1
    assert len(outbox_to("abe@example.org")) == 1

    # An alert naming no service of the site is about the monitoring itself: ignored.
    stray = post(client, payload(service, "firing", service_label="node-exporter"))
    assert stray.json["ignored"] == 1

    resolved = post(client, payload(service, "resolved"))
    assert resolved.json["resolved"] == [notice_id]
    db.session.expire_all()
    notice = notices.get_notice(notice_id)
    assert notice.state == NoticeState.RESOLVED and notice.resolved_at is not None
    assert notice.updates[-1].all_clear and notice.updates[-1].author_id is None
    assert any("All clear: Incident" in m.subject for m in outbox_to("abe@example.org"))
    # Resolving twice changes nothing; staff's notice page names the monitoring as its author.
    assert post(client, payload(service, "resolved")).json["unchanged"] == 1
    staff_client = people.sign_in(app.test_client(), staff)
    page = staff_client.get(f"/status/notices/{notice_id}")
    assert page.status_code == 200 and "Monitoring: <strong>All clear:</strong>" in page.text


def test_the_alert_webhook_is_off_without_its_token(app, tenants, monkeypatch):
    monkeypatch.setitem(app.config, "ALERT_WEBHOOK_TOKEN", None)
    assert post(app.test_client(), payload(tenants.service_a, "firing")).status_code == 404
