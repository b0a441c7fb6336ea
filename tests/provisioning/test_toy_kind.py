"""A kind of service added from this test module alone: its spec, its parameter form, its
provider and its Kind, registered in code (a package would use the `infrawg.kinds` and
`infrawg.providers` entry points). It walks request -> approve -> provision (a long operation:
Pending, then done) -> verify -> drift -> repair -> decommission, and nothing under
infrawg/provisioning/ knows it exists."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import select, update
from wtforms import IntegerField, StringField
from wtforms.validators import Length, NumberRange, Optional

from infrawg.errors import Conflict, Invalid
from infrawg.extensions import db
from infrawg.jobs import Pending, enqueue, run_due_jobs
from infrawg.jobs.models import Job, JobState
from infrawg.provisioning import kinds, lifecycle
from infrawg.provisioning.base import Check, Observed, Plan, Provider, Spec
from infrawg.provisioning.models import Service, ServiceState, ServiceType
from infrawg.provisioning.registry import register_provider, unregister_provider
from infrawg.timeutil import utcnow
from tests.conftest import html, outbox_to

# The toy backend: buckets by name, each a mapping of item path -> value. Module state, as a
# real backend's state lives outside the site.
BACKEND: dict[str, dict[str, Any]] = {}
BOOTING: set[str] = set()


@dataclass(frozen=True)
class BucketSpec(Spec):
    kind: ClassVar[str] = "bucket"

    bucket: str
    size: int = 1
    public: bool = False

    @property
    def ref(self) -> str:
        return self.bucket

    def items(self) -> dict[str, Any]:
        return {"size": self.size, "public": self.public}


@dataclass(frozen=True)
class BucketConfig:
    region: str = "toy-1"


class BucketProvider(Provider[BucketSpec]):
    """Implements only read, execute and verify: plan and destroy come from the framework."""

    kind = "bucket"
    name = "toybucket"
    Config = BucketConfig

    def read(self, ref: str) -> Observed[BucketSpec]:
        held = BACKEND.get(ref)
        state = None if held is None else BucketSpec(ref, held["size"], held["public"])
        return Observed.of(ref, state)

    def execute(self, plan: Plan[BucketSpec]) -> list[str] | Pending:
        if plan.destroy:
            BACKEND.pop(plan.ref, None)
            return [f"deleted {plan.ref}"]
        if plan.ref not in BACKEND and plan.ref not in BOOTING:
            # A long operation: the bucket is being made; look again later.
            BOOTING.add(plan.ref)
            return Pending(timedelta(hours=1), f"bucket {plan.ref} is being created")
        BOOTING.discard(plan.ref)
        BACKEND[plan.ref] = dict(plan.spec.items())
        return [f"set {plan.ref} to {BACKEND[plan.ref]}"]

    def verify(self, spec: BucketSpec) -> list[Check]:
        held = BACKEND.get(spec.bucket)
        if held is None:
            return [Check("bucket exists", False, "missing")]
        return [
            Check(f"{path} is {value}", held.get(path) == value, f"is {held.get(path)}")
            for path, value in spec.items().items()
        ]


class BucketForm(FlaskForm):
    bucket = StringField("Bucket name", validators=[Length(max=60)])
    size = IntegerField("Size (GB)", validators=[Optional(), NumberRange(min=1, max=100)])


class BucketKind(kinds.Kind):
    name = "bucket"
    label = "Storage bucket"
    ParametersForm = BucketForm

    def parameters(self, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        bucket = str(params.get("bucket") or "").strip().lower()
        if not bucket.isidentifier():
            raise Invalid("A bucket name is letters, digits and _.", field="bucket")
        return bucket, {"bucket": bucket, "size": int(params.get("size") or 1)}

    def spec_of(self, service: Service) -> BucketSpec:
        return BucketSpec(service.name, int(service.parameters["size"]))

    def suspended_spec(self, service: Service) -> BucketSpec:
        # While suspended the bucket shrinks to its smallest size (kept, not deleted).
        return BucketSpec(service.name, 1)


@pytest.fixture(autouse=True)
def toy_kind() -> Iterator[None]:
    BACKEND.clear()
    BOOTING.clear()
    register_provider(BucketProvider)
    kinds.register(BucketKind())
    yield
    kinds.unregister("bucket")
    unregister_provider("toybucket")


@pytest.fixture
def app_config(toy_kind, zonefile_settings) -> dict:
    return {"PROVIDERS": {"zonefile": zonefile_settings, "toybucket": {"region": "toy-2"}}}


@pytest.fixture
def bucket_type(app, chair) -> ServiceType:
    service_type = ServiceType(
        name="Buckets", kind="bucket", provider="toybucket", created_by_id=chair.id
    )
    db.session.add(service_type)
    db.session.commit()
    return service_type


def _release_pending_jobs() -> None:
    """The hour a Pending job waits has passed."""
    db.session.execute(update(Job).where(Job.state == JobState.QUEUED).values(next_run_at=utcnow()))
    db.session.commit()


def test_a_kind_from_a_test_module_walks_the_whole_lifecycle(
    app, client, people, tenant_member, organisation, chair, bucket_type
):
    tenant = people.sign_in(client, tenant_member)
    chair_client = people.sign_in(app.test_client(), chair)

    # The request form is generated from the kind's parameter form.
    page = html(tenant.get(f"/services/request?type={bucket_type.id}"))
    assert page.select_one("#request-form input[name=bucket]") is not None
    assert page.select_one("#request-form input[name=size]") is not None
    assert page.select_one("#request-form input[name=zone]") is None
    # Choosing another type in the select asks for that kind's fields (htmx, same view).
    select_ = page.select_one("#request-form select[name=service_type]")
    assert select_["hx-get"] == "/services/request"
    fragment = html(
        tenant.get(
            f"/services/request?service_type={bucket_type.id}", headers={"HX-Request": "true"}
        )
    )
    assert fragment.select_one("input[name=bucket]") is not None
    bad = tenant.post(
        "/services/request",
        data={"organisation": organisation.id, "service_type": bucket_type.id, "bucket": "a b"},
    )
    assert bad.status_code == 422
    data = {
        "organisation": organisation.id,
        "service_type": bucket_type.id,
        "bucket": "docs_assets",
        "size": "5",
    }
    assert tenant.post("/services/request", data=data).status_code == 303
    service = db.session.scalar(select(Service))
    assert service.name == "docs_assets" and service.parameters["size"] == 5

    # Approve; the provider's operation takes long: Pending, and the page shows its progress.
    assert chair_client.post(f"/services/{service.id}/decide/approve").status_code == 303
    run_due_jobs()
    assert service.state == ServiceState.PROVISIONING
    page = html(tenant.get(f"/services/{service.id}"))
    assert "docs_assets is being created" in page.select_one("#service-progress").text
    _release_pending_jobs()
    run_due_jobs()
    assert service.state == ServiceState.ACTIVE
    assert BACKEND["docs_assets"] == {"size": 5, "public": False}

    # The daily verify: in sync, then a change behind the site's back is drift.
    enqueue(lifecycle.VERIFY_JOB)
    db.session.commit()
    run_due_jobs()
    assert service.state == ServiceState.ACTIVE and service.verified_at is not None
    BACKEND["docs_assets"]["public"] = True
    enqueue(lifecycle.VERIFY_JOB)
    db.session.commit()
    run_due_jobs()
    assert service.state == ServiceState.DRIFTED
    assert "public is False" in service.state_reason
    assert any("Drifted" in m.subject for m in outbox_to(tenant_member.email))

    # The reviewed plan brings it back.
    page = html(tenant.get(f"/services/{service.id}"))
    assert page.select_one("#drift a")["href"] == f"/services/{service.id}/plan"
    plan_page = html(tenant.get(f"/services/{service.id}/plan"))
    assert "~ public" in plan_page.select_one("#plan").text
    reviewed = plan_page.select_one("input[name=reviewed]")["value"]
    assert (
        tenant.post(f"/services/{service.id}/apply", data={"reviewed": reviewed}).status_code == 303
    )
    run_due_jobs()
    assert service.state == ServiceState.ACTIVE
    assert BACKEND["docs_assets"]["public"] is False

    # Suspension runs the kind's suspended spec through a plan; resumption provisions again.
    lifecycle.suspend(chair, service, "testing suspension")
    db.session.commit()
    run_due_jobs()
    assert service.state == ServiceState.SUSPENDED and BACKEND["docs_assets"]["size"] == 1
    lifecycle.resume(chair, service, "back")
    db.session.commit()
    run_due_jobs()
    assert service.state == ServiceState.ACTIVE and BACKEND["docs_assets"]["size"] == 5

    # Decommission: the destroy plan is reviewed (the dry run), then applied by a job.
    destroy_page = html(tenant.get(f"/services/{service.id}/decommission"))
    assert "destroy" in destroy_page.select_one("#destroy-plan").text
    assert "- size" in destroy_page.select_one("#destroy-plan").text
    reviewed = destroy_page.select_one("input[name=reviewed]")["value"]
    response = tenant.post(
        f"/services/{service.id}/decommission", data={"reviewed": reviewed, "reason": "done"}
    )
    assert response.status_code == 303
    run_due_jobs()
    assert service.state == ServiceState.DECOMMISSIONED
    assert "docs_assets" not in BACKEND


def _active_bucket(tenant_member, organisation, bucket_type) -> Service:
    from infrawg.provisioning import service as services

    service = services.request_service(
        tenant_member, organisation, bucket_type, {"bucket": "b1", "size": 2}
    )
    service.state = ServiceState.ACTIVE
    BACKEND["b1"] = {"size": 2, "public": False}
    db.session.commit()
    return lifecycle.load(service.id)


def test_a_destroy_plan_is_a_dry_run_until_applied_and_refused_when_stale(
    app, tenant_member, organisation, bucket_type
):
    service = _active_bucket(tenant_member, organisation, bucket_type)
    result = lifecycle.dry_run_destroy(tenant_member, service)
    assert result.dry_run and not result.applied
    assert BACKEND["b1"] == {"size": 2, "public": False}

    reviewed = lifecycle.digest(lifecycle.review_destroy(tenant_member, service))
    BACKEND["b1"]["size"] = 3  # changed after the review
    with pytest.raises(Conflict, match="review it again"):
        lifecycle.request_decommission(tenant_member, service, reviewed)
    # A plan made before the change and applied after it is refused by the gate itself.
    provider = BucketProvider(BucketConfig())
    plan = provider.plan_destroy(BucketSpec("b1"), provider.read("b1"))
    BACKEND["b1"]["size"] = 4
    with pytest.raises(Conflict, match="changed after this plan was made"):
        provider.apply(plan)
    assert "b1" in BACKEND


def test_the_generic_plan_is_the_item_diff(app) -> None:
    provider = BucketProvider(BucketConfig())
    BACKEND["b2"] = {"size": 2, "public": False}
    plan = provider.plan_for(BucketSpec("b2", size=3))
    assert [(c.op.value, c.path, c.before, c.after) for c in plan.changes] == [
        ("update", "size", 2, 3)
    ]


# What a package's `[project.entry-points."infrawg.kinds"]` would name.
ENTRY_POINT_KIND = BucketKind()


def test_a_kind_installed_by_entry_point_is_found_beside_the_built_ins(monkeypatch) -> None:
    from importlib.metadata import EntryPoint

    point = EntryPoint("bucket", "tests.provisioning.test_toy_kind:ENTRY_POINT_KIND", kinds.GROUP)
    monkeypatch.setattr(
        kinds, "entry_points", lambda group: [point] if group == kinds.GROUP else []
    )
    kinds.unregister("bucket")  # the autouse fixture registered one in code
    found = kinds.available()
    assert found["bucket"] is ENTRY_POINT_KIND
    # The built-in DNS kind is there whatever the installed metadata says.
    assert found["dns"].name == "dns" and kinds.get("dns") is found["dns"]
