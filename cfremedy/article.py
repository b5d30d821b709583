"""Cloudflare's "Troubleshooting Cloudflare 5XX errors" article, section by section, as data.

`cfremedy diagnose` starts where the article starts every section: what the error looks like,
who generated it, the likely causes in order, what to check, and what to hand to the hosting
provider or to Cloudflare support. The wording here is ours; each section links to the
article's, which stays the authority. Which playbooks can check a code is not listed here: it
comes from the playbooks' own `error_codes`, so a new playbook is picked up without editing
this file.
"""

from __future__ import annotations

from dataclasses import dataclass

ARTICLE_URL = (
    "https://developers.cloudflare.com/support/troubleshooting/cloudflare-errors/troubleshooting-cloudflare-5xx-errors/"
)

TRACE = "the output of https://<hostname>/cdn-cgi/trace, opened from an affected browser"
TIME = "the time and time zone at which the error happened"
URL = "the full URL that returned the error"
RAY = "the Cloudflare Ray ID shown on the error page (the cf-ray response header)"
HARS = (
    "two HAR files of the failing request: one with Cloudflare enabled, one with Cloudflare"
    " temporarily paused for the site"
)
MTR = (
    "an MTR or traceroute from the origin server to a Cloudflare IP address that recently"
    " connected to it (taken from the origin, so cfremedy cannot collect it for you)"
)


@dataclass(frozen=True)
class Section:
    code: int
    title: str
    anchor: str
    # Who generates the page: "cloudflare" for the 52x family, "either" where the article
    # tells them apart by a Cloudflare-branded body.
    generated_by: str
    causes: tuple[str, ...]  # most likely first, as the article orders them
    checks: tuple[str, ...]
    for_host: tuple[str, ...] = ()  # what to ask the hosting provider or site administrator
    for_support: tuple[str, ...] = ()  # what Cloudflare support needs
    # What only someone at the origin or in a browser can collect (bundled as instructions).
    to_collect: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return ARTICLE_URL + self.anchor


SECTIONS: dict[int, Section] = {
    s.code: s
    for s in (
        Section(
            500,
            "Internal server error",
            "#error-500-internal-server-error",
            "either",
            causes=("The origin's application failed (a database connection error is a typical one).",),
            checks=("Read the origin's error log at the time of the error.",),
            for_host=(TIME, URL),
            for_support=("the domain name", TIME, TRACE),
        ),
        Section(
            502,
            "Bad gateway",
            "#error-502-bad-gateway-or-error-504-gateway-timeout",
            "either",
            causes=(
                "The origin (or a proxy in front of it) answered 502 itself.",
                "The origin does not answer for this hostname.",
                "The origin is overloaded, crashed, or lost its network.",
                "The origin serves gzip content with a wrong Content-Length, or broken gzip:"
                " try disabling compression at the origin.",
                "Rarely, a Cloudflare data center shifting traffic away for a few seconds.",
            ),
            checks=(
                "Confirm the origin answers requests for this exact hostname.",
                "Look for overload, crashes and blocked or timed-out services at the origin.",
                "Disable compression at the origin to rule it out.",
            ),
            for_host=(TIME, URL),
            for_support=(TIME, URL, TRACE),
        ),
        Section(
            503,
            "Service temporarily unavailable",
            "#error-503-service-temporarily-unavailable",
            "either",
            causes=(
                "Origin-generated: the origin is overloaded or rate-limits the requests.",
                "Cloudflare-branded: a connectivity problem in a Cloudflare data center.",
            ),
            checks=("Ask the host whether requests to the origin are being rate-limited.",),
            for_host=(TIME, URL),
            for_support=("the domain name", TIME, TRACE),
        ),
        Section(
            504,
            "Gateway timeout",
            "#error-502-bad-gateway-or-error-504-gateway-timeout",
            "either",
            causes=(
                "The origin (or a proxy in front of it) answered 504 itself.",
                "The origin is overloaded or a service it depends on timed out.",
            ),
            checks=("Look for overload and timed-out or blocked services at the origin.",),
            for_host=(TIME, URL),
            for_support=(TIME, URL, TRACE),
        ),
        Section(
            520,
            "Web server returns an unknown error",
            "#error-520-web-server-returns-an-unknown-error",
            "cloudflare",
            causes=(
                "The origin's application crashed.",
                "Cloudflare's IP addresses are not allowed at the origin.",
                "Response headers over 16 KB (usually too many cookies).",
                "An empty response: no status line, no body.",
                "Missing response headers, or an improper HTTP error response.",
                "HTTP/2 to origin is on and the origin announces h2 over ALPN but mishandles it.",
            ),
            checks=(
                "Read the origin's error logs for crashes at the time of the error.",
                "Turn off HTTP/2 to Origin (Speed > Optimization > Protocol Optimization) and retry.",
            ),
            for_host=(TIME, URL),
            for_support=(URL, RAY, TRACE, HARS),
            to_collect=(HARS,),
        ),
        Section(
            521,
            "Web server is down",
            "#error-521-web-server-is-down",
            "cloudflare",
            causes=(
                "The origin's web server application is offline.",
                "The origin (its firewall or security software) blocks Cloudflare's requests.",
            ),
            checks=(
                "Confirm the origin server is up and its web server answers.",
                "Read its error logs for crashes or shutdowns.",
                "Allow every Cloudflare IP range in the origin's firewall, without rate limits.",
                "With SSL Full or Full (strict), confirm the origin has a certificate installed"
                " (e.g. a Cloudflare Origin CA certificate).",
            ),
            for_host=(TIME, URL),
        ),
        Section(
            522,
            "Connection timed out",
            "#error-522-connection-timed-out",
            "cloudflare",
            causes=(
                "Cloudflare's IP addresses are blocked or rate-limited at the origin (.htaccess,"
                " iptables, a firewall): the most common cause.",
                "The origin is overloaded or offline and drops connections.",
                "Keepalives are disabled at the origin.",
                "The origin IP in Cloudflare's DNS is not the address the host provisioned.",
                "Packets are dropped at the origin.",
                "On Cloudflare Pages: the custom domain is not set up, or the CNAME does not point"
                " at the Pages domain.",
            ),
            checks=(
                "Cloudflare gives up when the SYN+ACK takes over 15 s, or an ACK over 90 s: check"
                " the origin answers within that.",
                "Confirm the origin address in the DNS records with the host.",
            ),
            for_host=(TIME, URL, MTR),
            for_support=(MTR, "the host's findings, logs and correspondence"),
            to_collect=(MTR,),
        ),
        Section(
            523,
            "Origin is unreachable",
            "#error-523-origin-is-unreachable",
            "cloudflare",
            causes=(
                "The A or AAAA record does not list the correct origin IP address.",
                "A routing problem between Cloudflare and the origin, or at the origin.",
            ),
            checks=("Confirm the origin address in the DNS records with the host.",),
            for_host=(TIME, URL, MTR),
            for_support=(MTR,),
            to_collect=(MTR,),
        ),
        Section(
            524,
            "A timeout occurred",
            "#error-524-a-timeout-occurred",
            "cloudflare",
            causes=(
                "The origin accepted the connection but sent no response within the proxy read"
                " timeout (100 s by default): a long-running request or an overloaded origin.",
                "A request body could not be written to the origin within the 30 s proxy write timeout.",
            ),
            checks=(
                "Find the slow requests in the origin's logs.",
                "Implement status polling for long processes instead of one long request.",
                "On Enterprise, raise proxy_read_timeout (up to 6,000 s), or use a cache rule's"
                " Proxy Read Timeout for cacheable content.",
                "Move requests that need over 100 s to a DNS-only (grey-cloud) subdomain.",
            ),
            for_host=(TIME, URL),
        ),
        Section(
            525,
            "SSL handshake failed",
            "#error-525-ssl-handshake-failed",
            "cloudflare",
            causes=(
                "No valid SSL certificate is installed at the origin.",
                "Port 443 (or the custom secure port) is not open.",
                "The origin does not support SNI.",
                "The origin's cipher suites do not match those Cloudflare offers.",
            ),
            checks=(
                "SSL Full or Full (strict) is set and the handshake to the origin fails.",
                "Confirm a certificate is installed (a free Cloudflare Origin CA certificate works).",
                "Compare the origin's cipher suites with those Cloudflare supports.",
                "Read the origin's error log at the time of the 525 for handshake resets.",
            ),
            for_host=(TIME, URL),
        ),
        Section(
            526,
            "Invalid SSL certificate",
            "#error-526-invalid-ssl-certificate",
            "cloudflare",
            causes=(
                "SSL is Full (strict) and Cloudflare cannot validate the origin certificate:"
                " expired, revoked, self-signed, or not naming the requested hostname.",
                "Port 443 at the origin does not accept connections.",
                "Through Cloudflare Gateway: an untrusted or expired chain, insecure-only cipher"
                " suites, or an origin redirecting HTTPS to HTTP.",
                "Workers subrequests to hostnames outside the zone always use Full (strict).",
            ),
            checks=(
                "Check the certificate's expiry, issuer, and that the hostname is in its CN or SAN.",
                "With a self-signed certificate, use Full instead of Full (strict) until a valid"
                " certificate is installed.",
            ),
            for_host=(TIME, URL),
        ),
        Section(
            527,
            "Railgun Listener to origin error",
            "#error-527-railgun-listener-to-origin-error",
            "cloudflare",
            # Railgun is retired and the newest revision of the article has no 527 section; what
            # follows is what the older revisions say, for a zone that still shows this error.
            causes=(
                "Railgun has been retired: the newest revision of the article no longer has a 527"
                " section. The older revisions describe the error as follows.",
                "The connection between Cloudflare and the origin's Railgun listener (rg-listener)"
                " was interrupted: a firewall in the way, or network incidents and packet loss"
                " between the Railgun server and Cloudflare.",
                "The listener's logs then show one of four failures: a connection timeout to the"
                " origin, its LAN timeout exceeded (lan.timeout in railgun.conf, 30 s by default),"
                " a refused connection, or a TLS/SSL error.",
            ),
            checks=(
                "Connection timeouts: test the origin's port (80 or 443) from the Railgun listener,"
                " e.g. nc -vz SERVERIP PORT.",
                "LAN timeout: raise lan.timeout in railgun.conf, or find why the web server is slow.",
                "Refused connections: allow the Railgun listener's IP in the origin's firewall.",
                "TLS/SSL errors: port 443 open, a certificate presented whose SAN or Common Name has"
                " the hostname, and SSL set to Full or Full (strict).",
            ),
            for_host=(TIME, URL),
            for_support=(
                "the full railgun.conf of the Railgun listener",
                "the full railgun-nat.conf",
                "the Railgun log files that show the errors",
            ),
            to_collect=(
                "railgun.conf, railgun-nat.conf and the Railgun logs, from the server that runs the"
                " Railgun listener (cfremedy cannot reach it)",
            ),
        ),
        Section(
            530,
            "Origin error with a 1xxx code",
            "#error-530",
            "cloudflare",
            causes=(
                "Shown together with a 1xxx error: that error names the actual problem.",
                "Load balancing enabled for China returns 530.",
            ),
            checks=("Look up the 1xxx error shown on the page in Cloudflare's 1xxx errors article.",),
            for_host=(TIME, URL),
            for_support=(TIME, URL, TRACE),
        ),
    )
}


def section_url(code: int) -> str:
    """The article's section for an error code: what a playbook's `docs_url` and a finding's
    link point at. Only codes the article has a section for exist here (KeyError otherwise,
    at import time of the playbook that asked: a typo cannot ship)."""
    return SECTIONS[code].url
