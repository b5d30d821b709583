"""What this machine trusts when it requests a URL as a visitor: the platform's trust store.

A browser verifies the edge's certificate against the operating system's trust store, which is
where a company puts the CA of its TLS-inspecting proxy or its private PKI. Python's defaults
(and httpx's, which ship `certifi`) do not look there, so a tool using them says "certificate
verify failed" on a machine whose browser loads the site fine. `truststore` verifies with the
platform's own verifier (Security.framework on macOS, CryptoAPI on Windows, OpenSSL's default
paths on Linux, which honour `SSL_CERT_FILE` and `SSL_CERT_DIR`); the two variables are also
loaded explicitly, so they count on every platform, as curl and Python's `ssl` honour them.

Only `diagnose`'s request for the URL uses this: origin probes verify what Cloudflare would
(`--origin-ca`, the public roots, Cloudflare's Origin CA), not what this machine trusts.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping

import truststore


def verifying_context(env: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """A client context verifying against the platform's trust store plus `SSL_CERT_FILE`/`SSL_CERT_DIR`."""
    env = os.environ if env is None else env
    context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cafile = env.get("SSL_CERT_FILE") or None
    capath = env.get("SSL_CERT_DIR") or None
    # A variable naming nothing is ignored, as OpenSSL ignores it: the store still applies.
    cafile = cafile if cafile and os.path.isfile(cafile) else None
    capath = capath if capath and os.path.isdir(capath) else None
    if cafile or capath:
        context.load_verify_locations(cafile=cafile, capath=capath)
    return context


def unverified_context() -> ssl.SSLContext:
    """For the second look after verification failed: the status still tells what the edge
    answered, and the certificate it presented is what the diagnosis is about. Never used for
    anything but reading that answer, and always reported as unverified."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def verification_failure(exc: BaseException) -> str | None:
    """OpenSSL's reason when `exc` (an httpx error, typically) is a certificate verification
    failure, e.g. "self-signed certificate"; None for any other failure."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return str(current.verify_message or current.reason or current)
        current = current.__cause__ or current.__context__
    return None
