"""How probes run: the CLI's probe options as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cfremedy.probes.connect_to import ConnectTo


@dataclass(frozen=True)
class ProbeOptions:
    # Bound on each step (connect, handshake, request), as Cloudflare bounds its own; the
    # default stays under Cloudflare's 15 s SYN+ACK wait so an audit is never slower than a 522.
    timeout: float = 10.0
    # Targets probed at once; a zone with hundreds of dead origins must not take hours.
    concurrency: int = 100
    connect_to: tuple[ConnectTo, ...] = ()
    # CA files Cloudflare trusts for this zone beyond the system store and the Origin CA root.
    origin_ca: tuple[Path, ...] = ()
    trust_system: bool = True
    # Connect only where a `connect_to` rule sends us (`--connect-to-only`): the sandbox and
    # the demo use it so that a record naming a real-looking address can never cause a packet
    # to leave the machine; uncovered ports and out-of-zone names come back SKIPPED.
    only_connect_to: bool = False
    # The DNS resolver names outside the zone are resolved with ("IP" or "IP:PORT"); None: the
    # system's. An explicit one is used even under `only_connect_to` (it was chosen, e.g. the
    # sandbox's), while without one such names are not resolved at all there.
    resolver: str | None = None
    # Ask the OCSP responder a Full (strict) origin's certificate names, and read the response
    # the origin staples (`--no-revocation-check` turns both off).
    revocation_check: bool = True

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"probe timeout must be positive, got {self.timeout!r}")
        if self.concurrency < 1:
            raise ValueError(f"probe concurrency must be at least 1, got {self.concurrency!r}")
