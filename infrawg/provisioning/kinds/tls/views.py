"""The TLS kind's routes (R12): the chain (tenant members and staff), the private key (a
tenant member, once), the approval of names not hosted here, and "check now"."""

from __future__ import annotations

from flask import Response, url_for
from flask_login import current_user

from infrawg.forms import ConfirmForm
from infrawg.policy import Permission, requires, route_subject
from infrawg.provisioning import bp
from infrawg.provisioning.kinds.tls import certificates, jobs  # noqa: F401  (the renewal job)
from infrawg.provisioning.views import VISIBLE_SERVICE
from infrawg.web import redirect_after_post, refused, submit


def _pem(text: str, filename: str, mimetype: str) -> Response:
    response = Response(text, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/services/<int:service_id>/tls/chain.pem")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def tls_chain(service_id: int):
    current = certificates.chain_of(route_subject())
    assert current.chain_pem is not None
    return _pem(
        current.chain_pem, f"{current.names[0]}.chain.pem", "application/pem-certificate-chain"
    )


@bp.post("/services/<int:service_id>/tls/key")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def tls_key(service_id: int):
    item = route_subject()
    return submit(
        ConfirmForm(),
        lambda: certificates.take_private_key(current_user, item),
        done=lambda taken: _pem(taken[1], f"{taken[0].names[0]}.key.pem", "application/x-pem-file"),
        again=refused,
    )


@bp.post("/services/<int:service_id>/tls/approve")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def tls_approve(service_id: int):
    item = route_subject()
    return submit(
        ConfirmForm(),
        lambda: certificates.approve_unmanaged(current_user, item),
        done=lambda _: redirect_after_post(
            url_for("provisioning.service_page", service_id=service_id),
            "Approved: the certificate is being ordered.",
        ),
        again=refused,
    )


@bp.post("/services/<int:service_id>/tls/check")
@requires(Permission.SERVICE_VIEW, subject=VISIBLE_SERVICE)
def tls_check(service_id: int):
    item = route_subject()
    return submit(
        ConfirmForm(),
        lambda: certificates.check_now(current_user, item),
        done=lambda seen: redirect_after_post(
            url_for("provisioning.service_page", service_id=service_id),
            "Every TXT record is served; the CA is asked to check them."
            if all(seen.values())
            else "Not served yet: " + ", ".join(k for k, ok in seen.items() if not ok),
            "ok" if all(seen.values()) else "error",
        ),
        again=refused,
    )
