"""TLS certificates from an ACME CA (RFC 8555) proved by DNS-01 (R12): the engine of the
future `tls` kind.

One engine per configured CA. It keeps its keys outside the database: the account key is a
`file:` secret reference or `account.pem` in the instance's key directory, and each order's
certificate key is a file in `<key directory>/orders/`; files are 0600 in a 0700 directory.

An order runs as a series of job calls, each short, with the state in between held as JSON
(`OrderState.to_json`): no secret is in it, only the path of the order's key file.

    engine = AcmeEngine(config, caa_resolver=resolver)
    order = engine.start_order(["example.org", "*.example.org"])   # CAA checked first
    engine.publish(order, targets)       # TXT values by value, wait until served
    engine.answer(order)                 # tell the CA to look
    result = engine.poll(order)          # Pending | IssuedCertificate | OrderFailed
    engine.withdraw(order, targets)      # remove the TXT values again

Renewal is due when a third of the lifetime is left, or inside the CA's ACME Renewal
Information window (RFC 9773) when its directory offers `renewalInfo` (Debian's pebble 2.4 does
not; the lifetime rule then decides). A decommissioned certificate is revoked (`revoke`).
"""

from infrawg.provisioning.kinds.dns.capabilities import DnsChallengeSolver
from infrawg.provisioning.providers.acme.caa import (
    CaaForbids,
    CaaVerdict,
    caa_allows,
    normalise_names,
)
from infrawg.provisioning.providers.acme.engine import (
    REASON_CESSATION_OF_OPERATION,
    AcmeEngine,
    ari_cert_id,
)
from infrawg.provisioning.providers.acme.problems import (
    AcmeError,
    AcmeRefused,
    explain_problem,
    problem_json,
)
from infrawg.provisioning.providers.acme.state import (
    AcmeConfig,
    ChallengeTargets,
    Dns01Challenge,
    IssuedCertificate,
    OrderFailed,
    OrderState,
    PollResult,
    RenewalDecision,
    renewal_point,
)

__all__ = [
    "REASON_CESSATION_OF_OPERATION",
    "AcmeConfig",
    "AcmeEngine",
    "AcmeError",
    "AcmeRefused",
    "CaaForbids",
    "CaaVerdict",
    "ChallengeTargets",
    "Dns01Challenge",
    "DnsChallengeSolver",
    "IssuedCertificate",
    "OrderFailed",
    "OrderState",
    "PollResult",
    "RenewalDecision",
    "ari_cert_id",
    "caa_allows",
    "explain_problem",
    "normalise_names",
    "problem_json",
    "renewal_point",
]
