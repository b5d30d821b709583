"""Reading an origin's leaf certificate into `CertInfo`, independently of whether it verified.

OpenSSL stops at the first verification problem, so its verdict alone cannot tell a playbook
that a certificate is *both* expired and for the wrong name, or that it is a Cloudflare Origin
CA certificate (fine behind the proxy, broken for a DNS-only record). We therefore inspect the
leaf ourselves with `cryptography`.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from importlib import resources

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from cfremedy.probes.results import CertInfo

ORIGIN_CA_RESOURCE = "cloudflare-origin-ca-rsa-root.pem"


@functools.cache
def origin_ca_pem() -> str:
    """Cloudflare's Origin CA root, shipped with the package: Full (strict) trusts it."""
    return (resources.files("cfremedy") / "data" / ORIGIN_CA_RESOURCE).read_text(encoding="ascii")


@functools.cache
def origin_ca_root() -> x509.Certificate:
    return x509.load_pem_x509_certificate(origin_ca_pem().encode("ascii"))


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when `issuer` really signed `cert` (names alone can be forged by anyone)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    names: list[str] = []
    for entry in extension.value:
        if isinstance(entry, x509.DNSName):
            names.append(entry.value)
        elif isinstance(entry, x509.IPAddress):
            names.append(str(entry.value))
    return tuple(names)


def _common_name(cert: x509.Certificate) -> str:
    attributes = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = attributes[0].value if attributes else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def cert_info(der: bytes, *, origin_ca: x509.Certificate | None = None) -> CertInfo:
    """Describe a DER certificate; `origin_ca` overrides the packaged root (for tests)."""
    cert = x509.load_der_x509_certificate(der)
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        common_name=_common_name(cert),
        sans=_sans(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        self_signed=issued_by(cert, cert),
        serial=format(cert.serial_number, "x"),
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
        origin_ca=issued_by(cert, origin_ca or origin_ca_root()),
    )


def _dns_match(pattern: str, hostname: str) -> bool:
    """RFC 6125 matching: exact, or a wildcard standing for exactly one leftmost label."""
    pattern = pattern.lower().rstrip(".")
    if pattern == hostname:
        return True
    if not pattern.startswith("*."):
        return False
    suffix = pattern[1:]  # ".example.com"
    label, dot, rest = hostname.partition(".")
    return bool(label and dot) and "." + rest == suffix and suffix.count(".") >= 2


def hostname_matches(info: CertInfo, hostname: str) -> bool:
    """Whether the certificate names `hostname`, as a browser or Cloudflare would check it.

    Like OpenSSL, the common name counts only when there is no DNS name among the SANs.
    """
    host = hostname.lower().rstrip(".")
    ips, dns_names = [], []
    for name in info.sans:
        try:
            ips.append(ipaddress.ip_address(name))
        except ValueError:
            dns_names.append(name)
    try:
        return ipaddress.ip_address(host) in ips
    except ValueError:
        pass
    if not dns_names and info.common_name:
        dns_names.append(info.common_name)
    return any(_dns_match(name, host) for name in dns_names)


def expired(info: CertInfo, now: dt.datetime | None = None) -> bool:
    return (now or dt.datetime.now(dt.UTC)) > info.not_after
