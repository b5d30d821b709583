"""Cloudflare's "Troubleshooting Cloudflare 5XX errors" article, section by section, as data.

`cfremedy diagnose` starts where the article starts every section: what the error looks like,
who generated it, the likely causes in order, what to check, and what to hand to the hosting
provider or to Cloudflare support. The wording here is ours; each section links to the
article's, which stays the authority. Which playbooks can check a code is not listed here: it
comes from the playbooks' own `error_codes`, so a new playbook is picked up without editing
this file.

A 530 names its real problem as a 1xxx error in the page (the article's 530 section sends the
reader to Cloudflare's 1xxx errors). `ERRORS_1XXX` names each one a page can show, with one line
of ours and the Cloudflare page to read; the wording is ours, the pages are the authority.
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


# -- the 1xxx errors a Cloudflare page can name (a 530 carries one; others come with 4xx) -------

ERRORS_1XXX_URL = "https://developers.cloudflare.com/support/troubleshooting/http-status-codes/cloudflare-1xxx-errors/"


@dataclass(frozen=True)
class Error1xxx:
    """One 1xxx error: its name as Cloudflare's page titles it, and one line of our own on what
    it means and where to look. Cloudflare's 1xxx pages are the authority (`url`); which
    playbooks check a code comes from the playbooks' `error_codes`, as for 5xx codes."""

    code: int
    name: str
    meaning: str
    page: str = ""  # the docs page's slug when several codes share one
    # Who acts on it, as each code's Cloudflare page says: "owner" (the site's own Cloudflare
    # setup: DNS, rules, Workers, tunnels), "block" (the site's security settings refuse the
    # visitor: only the site owner lifts it), "cloudflare" (nothing of the site's to change:
    # Cloudflare support if it lasts), "visitor" (the request itself).
    contact: str = "owner"

    @property
    def url(self) -> str:
        if self.code not in ERRORS_1XXX:  # no page of its own that we know of: the list
            return ERRORS_1XXX_URL
        return f"{ERRORS_1XXX_URL}{self.page or f'error-{self.code}'}/"


_SHARED_1006 = "error-1006"  # 1006, 1007 and 1008 share one page

ERRORS_1XXX: dict[int, Error1xxx] = {
    e.code: e
    for e in (
        Error1xxx(1000, "DNS points to prohibited IP",
                  "A proxied DNS record points at a Cloudflare address, or the origin sends the request back"
                  " through Cloudflare: point the record at the origin's own address."),
        Error1xxx(1001, "DNS resolution error",
                  "Cloudflare has no active zone for this name, or it is a CNAME to a Cloudflare-served"
                  " name that does not resolve (often a zone not yet active, or a SaaS hostname not set up)."),
        Error1xxx(1002, "DNS points to prohibited IP (or: Restricted)",
                  "A record points at a Cloudflare, local or otherwise disallowed address, or a CNAME"
                  " target is wrong: confirm the origin address with the host and fix the record."),
        Error1xxx(1003, "Direct IP access not allowed",
                  "The request named a Cloudflare IP address instead of the site's hostname (Host header).",
                  contact="visitor"),
        Error1xxx(1004, "Host not configured to serve web traffic",
                  "A DNS change has not reached every Cloudflare data center yet, or proxying was disabled"
                  " for the domain; lasting more than a few minutes is a case for Cloudflare support.",
                  contact="cloudflare"),
        Error1xxx(1006, "Access denied: your IP address has been banned",
                  "The site owner's security settings block the visitor's IP address.", _SHARED_1006, contact="block"),
        Error1xxx(1007, "Access denied: your IP address has been banned",
                  "The site owner's security settings block the visitor's IP address.", _SHARED_1006, contact="block"),
        Error1xxx(1008, "Access denied: your IP address has been banned",
                  "The site owner's security settings block the visitor's IP address.", _SHARED_1006, contact="block"),
        Error1xxx(1010, "Access denied: browser signature banned",
                  "The site owner blocks requests by the visitor's browser signature (e.g. Browser"
                  " Integrity Check refusing an automated client).", contact="block"),
        Error1xxx(1012, "Access denied",
                  "The site owner blocks the visitor because of malicious activity seen from its network;"
                  " only the owner can lift it.", contact="block"),
        Error1xxx(1014, "CNAME cross-user banned",
                  "A CNAME points at a hostname of another Cloudflare account, which Cloudflare refuses"
                  " unless that account serves it through Cloudflare for SaaS."),
        Error1xxx(1015, "You are being rate limited",
                  "A rate limiting rule of the site matched the visitor's requests.", contact="block"),
        Error1xxx(1016, "Origin DNS error",
                  "Cloudflare cannot resolve the origin's name to an address: a CNAME target or origin"
                  " hostname without A/AAAA records, or one that does not exist."),
        Error1xxx(1018, "Could not find host",
                  "Cloudflare's edge does not know the hostname yet: a newly activated domain still"
                  " propagating, or a partner-created domain whose DNS failed.", contact="cloudflare"),
        Error1xxx(1019, "Compute server error",
                  "A Worker failed; typically a Worker script that requests a URL served by itself."),
        Error1xxx(1020, "Access denied",
                  "A security rule of the site (a WAF custom rule or firewall rule) blocked the request.",
                  contact="block"),
        Error1xxx(1023, "Could not find host",
                  "The hostname's configuration cannot be found at the edge: a propagation delay or a"
                  " configuration problem, usually with a domain created through a partner.", contact="cloudflare"),
        Error1xxx(1025, "Please check back later",
                  "The account has reached its plan's limits for Workers requests."),
        Error1xxx(1033, "Cloudflare Tunnel error",
                  "The hostname is routed to a Cloudflare Tunnel that has no healthy connection: cloudflared"
                  " is not running, or the tunnel was deleted."),
        Error1xxx(1034, "Edge IP restricted",
                  "The record points at an address Cloudflare's edge refuses (e.g. a placeholder such as"
                  " 1.1.1.1), or a SaaS provider refuses a domain not set up with it."),
        Error1xxx(1035, "Invalid request rewrite (invalid URI path)",
                  "A Transform Rule rewrote the URI path into an invalid one."),
        Error1xxx(1036, "Invalid request rewrite (maximum length exceeded)",
                  "A Transform Rule produced a value longer than allowed."),
        Error1xxx(1037, "Invalid rewrite rule (failed to evaluate expression)",
                  "A Transform Rule's expression could not be evaluated for this request."),
        Error1xxx(1040, "Invalid request rewrite (header modification not allowed)",
                  "A Transform Rule tries to change a request header that may not be changed."),
        Error1xxx(1101, "Rendering error",
                  "A Worker threw a JavaScript exception while handling the request."),
        Error1xxx(1102, "Rendering error",
                  "A Worker exceeded its CPU time or memory limit."),
        Error1xxx(1104, "A variation of this email address is already taken",
                  "An account email problem (an address differing only by dots or a +tag already exists),"
                  " not a problem of the site.", contact="cloudflare"),
        Error1xxx(1200, "Cache connection limit",
                  "Too many requests are queued at Cloudflare's edge waiting for the origin: the origin"
                  " accepts connections too slowly, or too little is cached."),
    )
}  # fmt: skip


def error_1xxx(code: int) -> Error1xxx:
    """The table's entry, or a generic one (still with where to read more) for a code not in it."""
    return ERRORS_1XXX.get(code) or Error1xxx(
        code, "Cloudflare error", "cfremedy has no summary for this code: see Cloudflare's list of 1xxx errors."
    )
