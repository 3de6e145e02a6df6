"""Whether a sender domain's DNS publishes what it should: a DKIM key, the operator's SPF
mechanism, a DMARC record. Each check answers a Finding; a DNS that cannot be asked raises
providers.dns.DnsUnavailableError, which proves nothing either way.

SPF is walked here rather than evaluated with pyspf: pyspf answers "may this IP send?",
and the question is "does the record reach this mechanism?" (docs/decisions.md).
"""

import re
from dataclasses import dataclass

from providers import dkim, dns

SPF_LOOKUP_LIMIT = 10  # RFC 7208 4.6.4
_FOUND_MAX = 1000  # characters of a found record kept for people to read
_SPF_LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists")
_DMARC_POLICIES = ("none", "quarantine", "reject")


@dataclass(frozen=True)
class Finding:
    ok: bool
    found: str | None  # the record found (None: none)
    detail: str = ""  # why not ok

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "verified" if self.ok else "failed",
            "found": self.found[:_FOUND_MAX] if self.found is not None else None,
            "detail": self.detail,
        }


def _normalised_key(value: str) -> str:
    return re.sub(r"\s+", "", value)


def check_dkim(name: str, algorithm: str, public_key: str) -> Finding:
    """The TXT record at `name` must publish `public_key` for `algorithm`."""
    records = [text for text in dns.txt(name).texts if text.strip()]
    if not records:
        return Finding(False, None, f"No TXT record at {name}.")
    if len(records) > 1:
        return Finding(False, " | ".join(records), f"More than one TXT record at {name}.")
    record = records[0]
    try:
        tags = dkim.parse_tags(record)
    except ValueError as err:
        return Finding(False, record, f"Not a valid DKIM record: {err}.")
    if tags.get("v", "DKIM1") != "DKIM1":
        return Finding(False, record, "Not a DKIM record: v= must be DKIM1.")
    kind = tags.get("k", "rsa").lower()
    wanted = "rsa" if algorithm == dkim.RSA else "ed25519"
    if kind != wanted:
        return Finding(False, record, f"The record is for k={kind}; this key needs k={wanted}.")
    if "p" not in tags:
        return Finding(False, record, "The record has no public key (p=).")
    if not tags["p"]:
        return Finding(False, record, "The record's key is revoked (empty p=).")
    if _normalised_key(tags["p"]) != public_key:
        return Finding(False, record, "The public key differs from this domain's key.")
    return Finding(True, record)


def spf_records(texts: list[str]) -> list[str]:
    return [t for t in texts if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


class _SpfWalk:
    """Follows a domain's SPF record through its includes and redirect, counting the DNS
    lookups a receiver would make, to find out whether `wanted` is reached."""

    def __init__(self, wanted: str) -> None:
        self.wanted = wanted.lower().lstrip("+")
        self.lookups = 0
        self.reached = False
        self.problem = ""

    def walk(self, domain: str, trail: tuple[str, ...]) -> None:
        if self.failed():
            return
        if domain in trail:
            self.problem = f"The SPF record loops: {' → '.join((*trail, domain))}."
            return
        records = spf_records(dns.txt(domain).texts)
        if len(records) != 1:
            if trail:  # an include without a record is a permanent error for receivers
                how = "no SPF record" if not records else "more than one SPF record"
                self.problem = f"{domain}, included from {trail[-1]}, has {how}."
            return
        redirect = None
        for term in records[0].split()[1:]:
            bare = term.lower().lstrip("+-~?")
            if bare == self.wanted:
                self.reached = True
            if bare == "all":
                return  # nothing after "all" is ever evaluated (RFC 7208 5.1)
            if bare.startswith("redirect="):
                redirect = bare.partition("=")[2]
                continue
            mechanism = re.split(r"[:/=]", bare, maxsplit=1)[0]
            target = bare.partition(":")[2].partition("/")[0]
            if mechanism in _SPF_LOOKUP_TERMS:
                self.count(domain)
                if mechanism == "include" and target and "%" not in target:
                    self.walk(target.rstrip("."), (*trail, domain))
                    if self.failed():
                        return
        if redirect:
            self.count(domain)
            if "%" not in redirect:
                self.walk(redirect.rstrip("."), (*trail, domain))

    def failed(self) -> bool:
        return bool(self.problem)

    def count(self, domain: str) -> None:
        self.lookups += 1
        if self.lookups > SPF_LOOKUP_LIMIT and not self.problem:
            self.problem = (
                f"The SPF record needs more than {SPF_LOOKUP_LIMIT} DNS lookups; receivers "
                f"stop at {SPF_LOOKUP_LIMIT} and treat it as an error (RFC 7208 4.6.4)."
            )


def check_spf(domain: str, wanted: str) -> Finding:
    """The domain's SPF record must reach the mechanism `wanted` (e.g. include:x.example),
    directly or through its includes, within the lookup limit and without loops."""
    records = spf_records(dns.txt(domain).texts)
    if not records:
        return Finding(False, None, f"No SPF record (a TXT record starting v=spf1) at {domain}.")
    found = " | ".join(records)
    if len(records) > 1:
        return Finding(False, found, "More than one SPF record: receivers then ignore them all.")
    walk = _SpfWalk(wanted)
    walk.walk(domain, ())
    if walk.problem:
        return Finding(False, found, walk.problem)
    if not walk.reached:
        return Finding(False, found, f"The SPF record does not reach {wanted}.")
    return Finding(True, found)


def _dmarc_problem(record: str) -> str | None:
    try:
        tags = dkim.parse_tags(record)
    except ValueError as err:
        return str(err)
    if next(iter(tags), None) != "v" or tags["v"] != "DMARC1":
        return "it must begin with v=DMARC1"
    if tags.get("p", "").lower() not in _DMARC_POLICIES:
        return "p= must be none, quarantine or reject"
    if "sp" in tags and tags["sp"].lower() not in _DMARC_POLICIES:
        return "sp= must be none, quarantine or reject"
    for name in ("adkim", "aspf"):
        if name in tags and tags[name].lower() not in ("r", "s"):
            return f"{name}= must be r or s"
    if "pct" in tags and not (tags["pct"].isdecimal() and int(tags["pct"]) <= 100):
        return "pct= must be a whole number from 0 to 100"
    if "ri" in tags and not tags["ri"].isdecimal():
        return "ri= must be a number of seconds"
    for name in ("rua", "ruf"):
        for uri in filter(None, (u.strip() for u in tags.get(name, "").split(","))):
            if not uri.lower().startswith(("mailto:", "https:")):
                return f"{name}= takes mailto: addresses, not {uri!r}"
    if "fo" in tags and not all(part in ("0", "1", "d", "s") for part in tags["fo"].split(":")):
        return "fo= takes 0, 1, d and s, separated by colons"
    return None


def check_dmarc(domain: str) -> Finding:
    """A valid DMARC record at _dmarc.<domain>, or at a parent domain's (receivers fall back
    to the organizational domain's record)."""
    labels = domain.split(".")
    for start in range(len(labels) - 1):
        name = "_dmarc." + ".".join(labels[start:])
        texts = dns.txt(name).texts
        records = [t for t in texts if t.replace(" ", "").upper().startswith("V=DMARC1")]
        if not records:
            continue
        found = " | ".join(records)
        if len(records) > 1:
            return Finding(False, found, f"More than one DMARC record at {name}.")
        if problem := _dmarc_problem(records[0]):
            return Finding(False, found, f"Not a valid DMARC record at {name}: {problem}.")
        return Finding(True, found)
    return Finding(False, None, f"No DMARC record at _dmarc.{domain}.")
