"""What people do with a certificate service (R12): download the chain, take the private key
once, approve ordering names this site does not host, and ask for the records to be looked up
("check now")."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from infrawg import audit
from infrawg.actions import Action
from infrawg.errors import Conflict, NotAllowed, NotFound
from infrawg.extensions import db
from infrawg.jobs.models import Job, JobState
from infrawg.membership.models import Person
from infrawg.provisioning.kinds.tls import models
from infrawg.provisioning.kinds.tls.access import acme_provider, is_tenant_member
from infrawg.provisioning.kinds.tls.issuance import manual_records_seen, unmanaged_names
from infrawg.provisioning.kinds.tls.models import TlsIssuance
from infrawg.provisioning.models import Service
from infrawg.provisioning.providers.acme import OrderState
from infrawg.timeutil import utcnow


def chain_of(service: Service) -> TlsIssuance:
    current = models.current_of(service)
    if current is None or not current.chain_pem:
        raise NotFound("This service has no issued certificate yet.")
    return current


def take_private_key(actor: Person, service: Service) -> tuple[TlsIssuance, str]:
    """The current certificate's private key, once, to a tenant member; then the site's copy
    is deleted. The claim is one UPDATE, so two clicks at once cannot both get it."""
    if not is_tenant_member(actor, service):
        raise NotAllowed("Only a tenant member of the organisation may take the private key.")
    current = chain_of(service)
    if current.key_file is None or current.key_downloaded_at is not None:
        raise Conflict("The private key of this certificate was downloaded already.")
    text = Path(current.key_file).read_text()
    claimed = db.session.execute(
        update(TlsIssuance)
        .where(TlsIssuance.id == current.id, TlsIssuance.key_downloaded_at.is_(None))
        .values(key_downloaded_at=utcnow(), key_downloaded_by_id=actor.id)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The private key of this certificate was downloaded already.")
    audit.record(actor, Action.TLS_KEY_DOWNLOADED, service, f"serial {current.serial}")
    db.session.commit()
    Path(current.key_file).unlink(missing_ok=True)
    return current, text


def _release(service: Service) -> None:
    """The waiting provisioning job runs at the next tick instead of in an hour."""
    db.session.execute(
        update(Job)
        .where(
            Job.subject_type == "service",
            Job.subject_id == service.id,
            Job.state == JobState.QUEUED,
        )
        .values(next_run_at=utcnow())
    )


def approve_unmanaged(actor: Person, service: Service) -> TlsIssuance:
    """R12: a tenant member approves ordering names no zone here holds (audited)."""
    if not is_tenant_member(actor, service):
        raise NotAllowed("Only a tenant member of the organisation may approve this order.")
    waiting = models.in_flight(service)
    if waiting is None or waiting.step != models.AWAITING_TENANT:
        raise Conflict("This certificate is not waiting for an approval.")
    waiting.approved_by_id = actor.id
    waiting.approved_at = utcnow()
    waiting.step = models.ORDERING
    names = ", ".join(unmanaged_names(waiting.names))
    audit.record(actor, Action.TLS_UNMANAGED_APPROVED, service, f"names not hosted here: {names}")
    _release(service)
    return waiting


def check_now(actor: Person, service: Service) -> dict[str, bool]:
    """Look the manual TXT values up now; the job is released to answer once all are seen."""
    if not is_tenant_member(actor, service):
        raise NotAllowed("Only a tenant member of the organisation may check the records.")
    waiting = models.in_flight(service)
    if waiting is None or waiting.order is None:
        raise Conflict("This certificate is not waiting for DNS records.")
    from infrawg.provisioning.service import provider_for

    engine = acme_provider(provider_for(service.service_type.provider)).engine()
    seen = manual_records_seen(engine, OrderState.from_json(waiting.order))
    if all(seen.values()):
        _release(service)
    return seen
