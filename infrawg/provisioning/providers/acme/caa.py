"""CAA (RFC 8659), checked before ordering: may our CA issue for these names?"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.resolver

from infrawg.errors import Invalid
from infrawg.provisioning.providers.acme.problems import AcmeError

__all__ = ["CaaForbids", "CaaVerdict", "caa_allows", "normalise_names"]


class CaaForbids(Invalid):
    """CAA records forbid our CA for a name; nothing was ordered."""


@dataclass(frozen=True)
class CaaVerdict:
    """Whether CAA lets our CA issue for every name; `message` explains a refusal."""

    allowed: bool
    message: str = ""

    def __bool__(self) -> bool:
        return self.allowed


def caa_allows(
    names: Iterable[str], resolver: dns.resolver.Resolver, ca_identities: Iterable[str]
) -> CaaVerdict:
    """Whether the CAA records (RFC 8659) of every name let a CA with one of `ca_identities`
    (issuer domain names) issue. The relevant records are the first found walking from the
    name towards the root; a wildcard uses `issuewild` where the records have it.

    Raises `AcmeError` when a lookup fails: an unknown CAA answer is not a yes.
    """
    ours = sorted({i.lower().rstrip(".") for i in ca_identities if i})
    refusals: list[str] = []
    for name in normalise_names(names):
        wildcard = name.startswith("*.")
        found = _relevant_caa(name[2:] if wildcard else name, resolver)
        if found is None:
            continue
        owner, records = found
        tags = {tag for _flags, tag, _value in records}
        tag = "issuewild" if wildcard and "issuewild" in tags else "issue"
        unknown_critical = [t for flags, t, _ in records if flags & 128 and t not in _KNOWN_TAGS]
        if unknown_critical:
            refusals.append(
                f"The CAA records at {owner} carry a critical property this site does not "
                f"understand ({', '.join(sorted(unknown_critical))}), so no certificate may be "
                f"issued for {name}."
            )
            continue
        issuers = [value.split(";")[0].strip().lower() for _f, t, value in records if t == tag]
        if not issuers or any(i in ours for i in issuers):
            continue
        named = sorted({i for i in issuers if i})
        allowed = f"allow only {', '.join(named)}" if named else "allow no CA"
        suggestion = f'{owner} CAA 0 {tag} "{ours[0]}"' if ours else ""
        refusals.append(
            f"The CAA records at {owner} {allowed} to issue certificates for {name}; "
            f"our CA ({', '.join(ours) or 'not configured'}) is not among them, so no "
            "certificate was requested."
            + (f" To allow it, add the record {suggestion} beside the others." if ours else "")
        )
    return CaaVerdict(allowed=not refusals, message=" ".join(refusals))


_KNOWN_TAGS = frozenset({"issue", "issuewild", "iodef", "issuemail", "contactemail"})


def _relevant_caa(
    name: str, resolver: dns.resolver.Resolver
) -> tuple[str, list[tuple[int, str, str]]] | None:
    candidate = dns.name.from_text(name)
    while candidate != dns.name.root:
        try:
            answer = resolver.resolve(candidate, "CAA", raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            answer = None
        except dns.exception.DNSException as exc:
            raise AcmeError(
                f"The CAA records for {candidate} could not be looked up ({exc}); no "
                "certificate is requested until they can be checked."
            ) from exc
        if answer is not None and answer.rrset is not None and len(answer.rrset):
            records = [
                (
                    int(r.flags),
                    r.tag.decode().lower(),
                    r.value.decode(errors="replace"),
                )
                for r in answer.rrset
            ]
            return candidate.to_text(), records
        candidate = candidate.parent()
    return None


def normalise_names(names: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for raw in names:
        name = raw.strip().lower().rstrip(".")
        if not name:
            raise Invalid("A certificate name cannot be empty.")
        labels = name.split(".")
        if "*" in name and (labels[0] != "*" or "*" in ".".join(labels[1:]) or len(labels) < 3):
            raise Invalid(
                f"{raw!r}: a wildcard may only be the first label of a name under a domain, "
                "as in *.example.org."
            )
        try:
            dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            raise Invalid(f"{raw!r} is not a DNS name: {exc}") from exc
        if name not in seen:
            seen.append(name)
    if not seen:
        raise Invalid("A certificate needs at least one name.")
    return seen
