"""One scenario brought to life: the fake API, the stand-in origins, edge and DNS server,
started together.

`demo`, `sandbox serve` and the end-to-end tests all need the same wiring: probes must reach
the stand-in origins through `--connect-to` rules only (so no packet can leave the machine
even for records that name real-looking addresses), trust the sandbox CA, and the inventory
that goes with the scenario must be where the CLI looks for it.

Two sets of connect-to rules, never mixed: the fleet's, keyed by origin address, for origin
probes (`CFREMEDY_CONNECT_TO`), and the edge's, keyed by hostname, for the URL `diagnose`
requests (`CFREMEDY_EDGE_CONNECT_TO`). A hostname rule in the probes' set would also catch a
port-80 origin probe of that hostname, sending it to the edge instead of the origin. The edge
is always on loopback, so its rules are needed even when the origins sit on their real
addresses.

Names cfremedy resolves itself go to the sandbox's DNS server (`CFREMEDY_RESOLVER`), which
answers the scenario's `[[dns]]` entries and nothing else.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from cfremedy.inventory import EMPTY, Inventory, load_inventory
from cfremedy.probes.connect_to import parse_connect_to
from cfremedy.probes.options import ProbeOptions
from cfremedy.sandbox.api import SandboxApi
from cfremedy.sandbox.dns import DnsServer
from cfremedy.sandbox.edge import EdgeServer
from cfremedy.sandbox.origins import OriginFleet
from cfremedy.sandbox.scenario import Scenario, TokenSpec


class SandboxSession:
    def __init__(
        self, scenario: Scenario, *, host: str = "127.0.0.1", port: int = 0, real_addresses: bool = False
    ) -> None:
        self.scenario = scenario
        # Inside a private network namespace the origins listen on the real addresses, so
        # probes go direct; otherwise only --connect-to rules may route them (to loopback).
        self.real_addresses = real_addresses
        self.api = SandboxApi(scenario, host=host, port=port)
        self.fleet = OriginFleet(scenario.origins, real_addresses=real_addresses)
        self.edge = EdgeServer(scenario.edge, zones=[z.name for z in scenario.zones])
        self.dns = DnsServer(scenario.dns)
        # The sandbox's own history: demo and `sandbox serve` never touch the user's real one.
        self.state_dir = Path(tempfile.mkdtemp(prefix="cfremedy-sandbox-state-"))

    def __enter__(self) -> SandboxSession:
        self.fleet.start()
        try:
            self.api.start()
            self.edge.start()
            self.dns.start()
        except BaseException:
            self.edge.stop()
            self.api.stop()
            self.fleet.stop()
            shutil.rmtree(self.state_dir, ignore_errors=True)  # __exit__ will not run
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.dns.stop()
        self.edge.stop()
        self.api.stop()
        self.fleet.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    @property
    def token(self) -> TokenSpec:
        """The scenario's first token: by convention the one with every permission."""
        if not self.scenario.tokens:
            raise ValueError("the scenario defines no token")
        return self.scenario.tokens[0]

    @property
    def inventory(self) -> Inventory:
        path = self.inventory_file()
        return EMPTY if path is None else load_inventory(path)

    def probe_options(self, timeout: float = 3.0) -> ProbeOptions:
        """Origin probes reach the fleet only, and names are resolved by the sandbox's own DNS
        server. The edge has its own rules (`edge_rules`): a hostname rule for the edge would
        otherwise also catch a port-80 origin probe."""
        return ProbeOptions(
            timeout=timeout,
            connect_to=tuple(parse_connect_to(r) for r in self.fleet.connect_to()),
            origin_ca=(self.fleet.ca_file,),
            only_connect_to=not self.real_addresses,
            resolver=self.dns.address,
        )

    def edge_rules(self) -> list[str]:
        """Where `diagnose` sends a request for a URL on a scenario hostname: the edge server."""
        return self.edge.connect_to()

    def inventory_file(self) -> Path | None:
        return Path(self.scenario.inventory) if self.scenario.inventory else None

    def env(self, token: TokenSpec | None = None) -> dict[str, str]:
        """Environment variables that point cfremedy at this sandbox."""
        env = {
            "CLOUDFLARE_BASE_URL": self.api.url,
            "CLOUDFLARE_API_TOKEN": (token or self.token).value,
            "CFREMEDY_CONNECT_TO": " ".join(self.fleet.connect_to()),
            "CFREMEDY_EDGE_CONNECT_TO": " ".join(self.edge_rules()),
            "CFREMEDY_ORIGIN_CA": str(self.fleet.ca_file),
            "CFREMEDY_CONNECT_TO_ONLY": "false" if self.real_addresses else "true",
            "CFREMEDY_STATE_DIR": str(self.state_dir),
            "CFREMEDY_RESOLVER": self.dns.address,
        }
        inventory = self.inventory_file()
        if inventory is not None:
            env["CFREMEDY_INVENTORY"] = str(inventory)
        return env
