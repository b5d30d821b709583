"""Certificates for the sandbox origins: one per way a real origin's certificate goes wrong.

Everything is generated at fleet start (EC P-256, so twenty origins cost milliseconds) and
written into a directory the fleet owns, because `ssl.SSLContext.load_cert_chain` only reads
files. Two CAs exist: the sandbox CA, which tests hand to the probes as `--origin-ca` so that
"valid" origins pass Full (strict), and an "untrusted" CA that nothing ever trusts. A leaf of
the sandbox CA can name an OCSP responder (its Authority Information Access): the sandbox's
own, on loopback (`sandbox/ocsp.py`), which answers good or revoked as the origin's scenario
says, signed by the sandbox CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

# Behaviours whose TLS port presents a certificate; the others never complete a handshake.
CERT_BEHAVIOURS = frozenset({"valid", "self_signed", "expired", "wrong_name", "untrusted"})
WRONG_NAME = "wrong.invalid"

_DAY = dt.timedelta(days=1)
_HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Issuer:
    """A CA that can sign leaves: its certificate, its key and where its PEM was written."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    pem_path: Path


@dataclass(frozen=True)
class LeafFiles:
    cert_path: Path
    key_path: Path
    cert: x509.Certificate | None = None


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(names: tuple[str, ...]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def make_ca(directory: Path, stem: str, common_name: str, organization: str = "cfremedy sandbox") -> Issuer:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name(common_name, organization)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + 3650 * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_path = directory / f"{stem}.pem"
    _write_cert(cert, pem_path)
    return Issuer(cert=cert, key=key, pem_path=pem_path)


def make_leaf(
    directory: Path,
    stem: str,
    names: tuple[str, ...],
    *,
    issuer: Issuer | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
    organization: str = "cfremedy sandbox origin",
    ocsp_url: str = "",
) -> LeafFiles:
    """Sign a server certificate for `names`; `issuer=None` makes it sign itself.

    A self-signed leaf is deliberately an end-entity certificate (no CA flag): that is what
    `openssl req -x509` style origin certificates look like, and what OpenSSL reports as
    "self-signed certificate" rather than as an untrusted root.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(names[0], organization)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_san(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if ocsp_url:
        access = x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    _write_cert(cert, cert_path)
    _write_key(key, key_path)
    return LeafFiles(cert_path=cert_path, key_path=key_path, cert=cert)


def ocsp_response(
    leaf: x509.Certificate, issuer: Issuer, status: str, *, now: dt.datetime | None = None
) -> ocsp.OCSPResponse:
    """An OCSP response about `leaf`, signed by its issuer: `status` is good or revoked (revoked
    a week ago, key compromise), valid from an hour ago for a week."""
    moment = now or dt.datetime.now(dt.UTC)
    revoked = status == "revoked"
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=leaf,
        issuer=issuer.cert,
        algorithm=hashes.SHA1(),  # noqa: S303 - what responders (and RFC 5019 clients) use
        cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
        this_update=moment - _HOUR,
        next_update=moment + 7 * _DAY,
        revocation_time=moment - 7 * _DAY if revoked else None,
        revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
    return builder.sign(issuer.key, hashes.SHA256())


class SandboxPki:
    """The two CAs of one fleet and the leaves it issues, all under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = make_ca(directory, "sandbox-ca", "cfremedy sandbox CA")
        self.untrusted_ca = make_ca(directory, "untrusted-ca", "cfremedy untrusted CA")

    def leaf_for(
        self,
        stem: str,
        behaviour: str,
        names: tuple[str, ...],
        *,
        days_left: int | None = None,
        ocsp_url: str = "",
    ) -> LeafFiles:
        """The certificate an origin with HTTPS behaviour `behaviour` presents.

        `days_left` makes a certificate that is valid today expire that many days from now,
        plus an hour, so that whole days left (rounded down) read exactly `days_left` for the
        sandbox's first hour. Every call signs a new leaf under its own stem; callers give each
        origin its own stem, so no two origins (say, with different `days_left`) share one.
        """
        if behaviour not in CERT_BEHAVIOURS:
            raise ValueError(f"HTTPS behaviour {behaviour!r} presents no certificate")
        now = dt.datetime.now(dt.UTC)
        not_before, not_after = now - _DAY, now + 90 * _DAY
        if days_left is not None:
            if behaviour == "expired" or days_left < 1:
                raise ValueError(f"days_left={days_left} needs a certificate valid today")
            not_after = now + days_left * _DAY + _HOUR
        issuer: Issuer | None = self.ca
        if behaviour == "expired":
            not_before, not_after = now - 400 * _DAY, now - 2 * _DAY
        elif behaviour == "wrong_name":
            names = (WRONG_NAME,)
        elif behaviour == "untrusted":
            issuer = self.untrusted_ca
        elif behaviour == "self_signed":
            issuer = None
        return make_leaf(
            self.directory,
            stem,
            names,
            issuer=issuer,
            not_before=not_before,
            not_after=not_after,
            ocsp_url=ocsp_url if issuer is self.ca else "",
        )
