"""How Cloudflare's edge behaves toward an origin: the numbers and lists the verdicts rest on.

Probes imitate it (the cipher offer) and playbooks judge against it (the timeouts), so both
read it from here rather than from each other: a playbook never imports a probe module.
Sources: Cloudflare's "Cipher suites" reference for origin connections, and the 5xx article's
522 and 524 sections.
"""

from __future__ import annotations

# The TLS 1.0-1.2 cipher suites Cloudflare presents to origins, in its order. TLS 1.3's three
# suites are OpenSSL's defaults already. DES-CBC3-SHA is in Cloudflare's list but not in every
# OpenSSL build; a context keeps the ones it has.
CLOUDFLARE_ORIGIN_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-SHA",
    "AES128-GCM-SHA256",
    "AES128-SHA",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "AES256-SHA",
    "DES-CBC3-SHA",
)

# What Cloudflare offers over ALPN; the origin's pick tells whether HTTP/2 to origin applies.
ALPN_OFFER = ("h2", "http/1.1")

# 522: Cloudflare gives up on a TCP connection whose SYN+ACK takes longer than this.
SYN_ACK_TIMEOUT = 15.0
# 524: how long Cloudflare waits for the origin's response by default (`proxy_read_timeout`),
# and the most an Enterprise zone may set.
DEFAULT_PROXY_READ_TIMEOUT = 100
MAX_PROXY_READ_TIMEOUT = 6000
