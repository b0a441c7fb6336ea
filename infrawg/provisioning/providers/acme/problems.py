"""The CA's problem documents (RFC 8555 6.7) in words a tenant can act on."""

from __future__ import annotations

import json
import re
from typing import Any

from acme import messages

from infrawg.provisioning.base import ProviderError
from infrawg.provisioning.providers.acme.state import Dns01Challenge

__all__ = ["AcmeError", "AcmeRefused", "explain_problem", "problem_json"]


class AcmeError(ProviderError):
    """The CA could not be reached or answered something we cannot use; a job may retry."""


class AcmeRefused(AcmeError):
    """The CA answered a request with a problem document; the message explains it in plain
    words, `problem` is the document as the CA sent it and `code` its ACME error code."""

    def __init__(self, problem: messages.Error) -> None:
        super().__init__(explain_problem(problem))
        self.problem = problem_json(problem)
        self.code = problem.code or ""


# How pebble quotes a failed lookup's DNS response code: "... unsuccessful response: '\\x03'".
_DNS_RCODE = re.compile(r"unsuccessful response: '\\*x([0-9a-f]{2})'")


def explain_problem(problem: messages.Error, challenge: Dns01Challenge | None = None) -> str:
    """The CA's problem document (RFC 8555 6.7) in words a tenant can act on, ending with
    the CA's own words."""
    code = problem.code or ""
    said = problem.detail or problem.title or problem.description or str(problem.typ)
    identifier = problem.identifier.value if problem.identifier is not None else ""
    name = challenge.identifier if challenge is not None else identifier or "the names"
    owner = challenge.owner if challenge is not None else f"_acme-challenge.{name}."
    if code in ("unauthorized", "incorrectResponse"):
        rcode = _DNS_RCODE.search(said)
        if "no txt" in said.lower() or (rcode is not None and int(rcode.group(1), 16) == 3):
            text = (
                f"The CA found no TXT record at {owner}, so it will not issue a certificate "
                f"for {name}. The record may not have been published, or not have reached "
                "every name server yet."
            )
        elif rcode is not None:
            text = (
                f"The CA asked for the TXT record at {owner} and the name servers answered "
                f"with an error, so it will not issue a certificate for {name}."
            )
        else:
            text = (
                f"The CA could not find the TXT value it expected at {owner}, so it will not "
                f"issue a certificate for {name}. The record there may hold the value of an "
                "older request, or the new value may not have reached every name server yet."
            )
    elif code == "dns":
        text = (
            f"The CA could not look up {owner} in DNS (a name server did not answer or "
            f"answered with an error), so it could not check {name}."
        )
    elif code == "caa":
        text = f"A CAA record on the domain of {name} forbids this CA from issuing for it."
    elif code in ("rejectedIdentifier", "unsupportedIdentifier"):
        text = f"The CA will not issue certificates for {name}."
    elif code == "rateLimited":
        text = "The CA is limiting how many certificates we may ask for; we will ask again later."
    elif code == "connection":
        text = f"The CA could not reach the name servers for {name}."
    elif code == "serverInternal":
        text = "The CA had an internal error; we will ask again later."
    elif code == "badCSR":
        text = "The CA refused the certificate request itself; staff have to look at it."
    else:
        text = f"The CA refused the request for {name}."
    return f"{text} (The CA said: {said})"


def problem_json(problem: messages.Error) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(problem.json_dumps())
    return data
