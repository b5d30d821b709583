"""Why the edge's certificate did not verify on this machine, and whose problem that is.

When `diagnose` cannot verify the certificate it gets for a Cloudflare-proxied URL, three
different things look alike from OpenSSL's one-line reason: Cloudflare has no certificate for
the name (every visitor sees the error: order one), Cloudflare presents the zone's own
certificate but this machine does not trust its issuer (this machine's trust store is the
problem), or something between this machine and Cloudflare — a TLS-inspecting proxy,
antivirus, a captive portal — answered the handshake with a certificate of its own (trust its
CA, or the diagnosis is not of the site). The zone's certificate packs tell them apart: a pack
certificate with the same names, the same expiry and the same issuer is the one the edge
presented. Names and expiry alone are not enough: a TLS-inspecting proxy can copy both from the
real certificate into the one it signs, but it signs with its own CA, so the issuer differs.

Pure: the verification failure, the certificate received, the packs (or None when they could
not be read) come in; a verdict with its reasons goes out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import NameOID

from cfremedy.models import CertificatePack, EdgeCertificate
from cfremedy.probes.certificates import expired, hostname_matches
from cfremedy.probes.results import CertInfo

# A pack certificate's `expires_on` and the leaf's notAfter are the same instant; a minute
# absorbs rounding in either.
SAME_EXPIRY = timedelta(minutes=1)
# The API names a pack certificate's issuer by its organisation run together ("GoogleTrustServices",
# "LetsEncrypt", "DigiCertInc"); the certificate's issuer is a distinguished name ("CN=WE1,
# O=Google Trust Services,C=US"). Both are compared lower-case, letters and digits only, without
# the company form at the end, which one side has and the other not ("Inc", "LLC", "SSL.com" is
# "SSL Corporation").
_COMPANY_FORMS = ("corporation", "limited", "inc", "llc", "ltd", "corp", "gmbh", "com", "co", "nv", "sa", "ag")
_NOT_ALNUM = re.compile(r"[^0-9a-z]")


@dataclass(frozen=True)
class EdgeTlsVerdict:
    cause: str  # "no_certificate_for_host", "untrusted_issuer", "intercepted", "expired", "unknown"
    summary: str  # one sentence: what is wrong and whose it is
    details: tuple[str, ...]  # the facts behind it, and what to do
    zone_certificate: str = ""  # the pack certificate the edge presented, when recognised


def _covers(pattern: str, host: str) -> bool:
    pattern = pattern.lower().rstrip(".")
    if pattern == host:
        return True
    if not pattern.startswith("*."):
        return False
    label, dot, rest = host.partition(".")
    return bool(label and dot) and rest == pattern[2:]


def covering_packs(packs: Sequence[CertificatePack], host: str) -> list[CertificatePack]:
    """Active packs with a name that covers `host` (a wildcard stands for one label only)."""
    host = host.lower().rstrip(".")
    return [p for p in packs if p.status == "active" and any(_covers(h, host) for h in p.hosts)]


def _issuer_key(name: str) -> str:
    key = _NOT_ALNUM.sub("", name.lower())
    stripped = True
    while stripped:
        stripped = False
        for form in _COMPANY_FORMS:
            if key.endswith(form) and len(key) > len(form):
                key, stripped = key[: -len(form)], True
    return key


def _issuer_names(rfc4514: str) -> set[str]:
    """The organisation and common name of a certificate's issuer (RFC 4514), as keys."""
    try:
        name = x509.Name.from_rfc4514_string(rfc4514)
    except ValueError:
        return set()
    attributes = name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) + name.get_attributes_for_oid(
        NameOID.COMMON_NAME
    )
    return {_issuer_key(str(a.value)) for a in attributes}


def same_issuer(pack_issuer: str, certificate_issuer: str) -> bool:
    """Whether the API's issuer of a pack certificate names the presented certificate's issuer."""
    key = _issuer_key(pack_issuer)
    return bool(key) and key in _issuer_names(certificate_issuer)


def _same_names_and_expiry(candidate: EdgeCertificate, certificate: CertInfo) -> bool:
    names = {n.lower().rstrip(".") for n in certificate.sans}
    if candidate.expires_on is None or {h.lower() for h in candidate.hosts} != names:
        return False
    return abs(candidate.expires_on - certificate.not_after) <= SAME_EXPIRY


def lookalike_pack_certificate(
    packs: Sequence[CertificatePack], certificate: CertInfo
) -> tuple[CertificatePack, EdgeCertificate] | None:
    """A zone certificate with the presented one's names and expiry, whatever its issuer."""
    return next(
        ((pack, c) for pack in packs for c in pack.certificates if _same_names_and_expiry(c, certificate)), None
    )


def presented_pack_certificate(
    packs: Sequence[CertificatePack], certificate: CertInfo
) -> tuple[CertificatePack, EdgeCertificate] | None:
    """The zone's certificate the edge presented: same names, same expiry, same issuer."""
    return next(
        (
            (pack, c)
            for pack in packs
            for c in pack.certificates
            if _same_names_and_expiry(c, certificate) and same_issuer(c.issuer, certificate.issuer)
        ),
        None,
    )


def _pack_certificate(pack: CertificatePack, certificate: EdgeCertificate) -> str:
    return f"{pack.type} pack {pack.id}, certificate {certificate.id} ({', '.join(certificate.hosts)})"


def _describe(certificate: CertInfo) -> str:
    names = ", ".join(certificate.sans) or certificate.common_name or "no names"
    issuer = "itself (self-signed)" if certificate.self_signed else certificate.issuer
    return f"for {names}, issued by {issuer}, valid until {certificate.not_after:%Y-%m-%d}"


def judge(
    host: str,
    failure: str,
    certificate: CertInfo | None,
    packs: Sequence[CertificatePack] | None,
    *,
    packs_unread: str = "",
    proxy: str = "",
    now: datetime | None = None,
) -> EdgeTlsVerdict:
    """`failure` is OpenSSL's reason; `packs` None means they were not read (`packs_unread` says
    why); `proxy` the proxy the request went through, if any."""
    host = host.lower().rstrip(".")
    details: list[str] = [f"This machine could not verify the certificate: {failure}."]
    if certificate is not None:
        details.append(f"The certificate received is {_describe(certificate)}.")
    through = f"the proxy {proxy}" if proxy else "a TLS-inspecting proxy, antivirus software or a captive portal"
    if packs is None:
        details.append(
            "The zone's certificate packs were not read"
            + (f" ({packs_unread})" if packs_unread else "")
            + ": with them (SSL and Certificates Read) cfremedy tells a certificate Cloudflare"
            " presents from one something in between presents."
        )
        if certificate is not None and expired(certificate, now):
            return EdgeTlsVerdict("expired", "The certificate presented for this hostname has expired.", tuple(details))
        if certificate is not None and not hostname_matches(certificate, host):
            return EdgeTlsVerdict(
                "unknown", f"The certificate presented does not name {host}.", tuple(details)
            )  # fmt: skip
        return EdgeTlsVerdict("unknown", "The edge's certificate is not trusted by this machine.", tuple(details))
    covering = covering_packs(packs, host)
    presented = presented_pack_certificate(packs, certificate) if certificate is not None else None
    lookalike = lookalike_pack_certificate(packs, certificate) if certificate is not None else None
    if presented is None and lookalike is not None:
        pack, cert = lookalike
        if not cert.issuer:  # nothing to compare the issuer with: neither verdict can be given
            details.append(
                f"Its names and expiry are those of the zone's {_pack_certificate(pack, cert)}, but the API"
                " lists no issuer for it, so a proxy that copies both cannot be told from it."
            )
            return EdgeTlsVerdict(
                "unknown", "The edge's certificate is not trusted by this machine.", tuple(details)
            )  # fmt: skip
        details.append(
            f"Its names and expiry are those of the zone's {_pack_certificate(pack, cert)}, but its issuer is"
            f" not the pack's ({cert.issuer}): a certificate made to look like the zone's."
        )
    if presented is not None:
        pack, cert = presented
        zone_certificate = _pack_certificate(pack, cert)
        details.append(f"It is the zone's own certificate: {zone_certificate}, issuer {cert.issuer or 'unknown'}.")
        if certificate is not None and not hostname_matches(certificate, host):
            details.append(
                f"No active certificate pack covers {host}: a wildcard covers one level of subdomain only."
                " Order an advanced certificate (or enable Total TLS) for it."
            )
            return EdgeTlsVerdict(
                "no_certificate_for_host",
                f"Cloudflare has no certificate for {host}: every visitor gets a certificate error.",
                tuple(details),
                zone_certificate,
            )
        if certificate is not None and expired(certificate, now):
            return EdgeTlsVerdict(
                "expired", "Cloudflare presents the zone's certificate, and it has expired.", tuple(details),
                zone_certificate,
            )  # fmt: skip
        details.append(
            "Cloudflare presents the right certificate; this machine lacks its issuer's root: update the"
            " operating system's CA certificates, or point SSL_CERT_FILE at a bundle that has it."
        )
        return EdgeTlsVerdict(
            "untrusted_issuer",
            "The site's certificate is fine; this machine does not trust its issuer.",
            tuple(details),
            zone_certificate,
        )
    if not covering:
        hosts = sorted({h for p in packs if p.status == "active" for h in p.hosts})
        details.append(
            f"No active certificate pack covers {host} (active packs cover: {', '.join(hosts) or 'nothing'})."
            " A universal certificate covers the zone and one level of subdomains; order an advanced"
            " certificate (or enable Total TLS) for deeper names."
        )
        return EdgeTlsVerdict(
            "no_certificate_for_host",
            f"Cloudflare has no certificate for {host}: every visitor gets a certificate error.",
            tuple(details),
        )
    active = ", ".join(
        f"{p.type} pack {p.id} ({', '.join(p.hosts)}"
        + (f", expires {min(c.expires_on for c in p.certificates if c.expires_on):%Y-%m-%d}" if any(
            c.expires_on for c in p.certificates) else "")
        + ")"
        for p in covering
    )  # fmt: skip
    details.append(f"The zone has an active certificate for {host}: {active}.")
    details.append(
        f"The certificate received is none of the zone's: {through} between this machine and Cloudflare"
        " answered the handshake. If it is your organisation's, trust its CA (the system store, or"
        " SSL_CERT_FILE) and run diagnose again; visitors elsewhere are not affected by it."
    )
    return EdgeTlsVerdict(
        "intercepted",
        "Something between this machine and Cloudflare presented its own certificate.",
        tuple(details),
    )
