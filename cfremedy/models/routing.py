"""What decides where Cloudflare sends a hostname's traffic, beyond its DNS records.

Load Balancers (and their account-level pools), Cloudflare Tunnels, Origin Rules and Cache
Rules, as the API describes them, reduced to what a route needs. `cfremedy.routes` turns
them, with the DNS records, into every proxied hostname's route.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cfremedy.models.common import frozen_mapping

TUNNEL_SUFFIX = ".cfargotunnel.com"  # a proxied CNAME to <tunnel id>.cfargotunnel.com


@dataclass(frozen=True)
class PoolOrigin:
    """One endpoint of a load-balancer pool."""

    name: str
    address: str  # an IP address or a host name
    enabled: bool = True
    weight: float = 1.0
    port: int = 0  # 0: the scheme's default (443 or 80)
    host_header: str = ""  # the `Host` override; Cloudflare sends it as SNI too
    healthy: bool | None = None  # what the pool's health check last said; None: unknown


@dataclass(frozen=True)
class Pool:
    id: str
    name: str
    enabled: bool = True
    minimum_origins: int = 1
    origins: tuple[PoolOrigin, ...] = ()
    healthy: bool | None = None  # None: health not read (or not reported)


@dataclass(frozen=True)
class LoadBalancer:
    """A zone's load balancer: its `name` is the hostname it answers for, ahead of any DNS
    record of that name."""

    id: str
    name: str
    enabled: bool = True
    proxied: bool = True
    default_pools: tuple[str, ...] = ()  # pool ids, in failover order
    fallback_pool: str = ""
    region_pools: Mapping[str, tuple[str, ...]] = field(default_factory=frozen_mapping)
    country_pools: Mapping[str, tuple[str, ...]] = field(default_factory=frozen_mapping)
    pop_pools: Mapping[str, tuple[str, ...]] = field(default_factory=frozen_mapping)

    @property
    def pool_ids(self) -> tuple[str, ...]:
        """Every pool it can send traffic to: default pools first, then the steering maps, then
        the fallback; each once."""
        steering = [
            p
            for table in (self.region_pools, self.country_pools, self.pop_pools)
            for pools in table.values()
            for p in pools
        ]
        every = [*self.default_pools, *steering, *([self.fallback_pool] if self.fallback_pool else [])]
        return tuple(dict.fromkeys(every))


@dataclass(frozen=True)
class IngressRule:
    """One rule of a remote-managed tunnel's configuration; the last one has no hostname (the
    catch-all every configuration ends with)."""

    hostname: str = ""  # "" for the catch-all; may start with "*." (one leading wildcard label)
    path: str = ""  # a regular expression on the path; "" for every path
    service: str = ""  # http://localhost:8080, http_status:404, ...


@dataclass(frozen=True)
class Tunnel:
    id: str
    name: str
    status: str  # healthy | degraded | down | inactive, or whatever the API said
    remote_config: bool = False  # dashboard-managed: its ingress rules are readable
    connections: int = 0
    deleted: bool = False
    # The remote configuration's ingress rules; None when not read (a locally managed tunnel
    # keeps them in its own config.yml, which the API cannot see).
    ingress: tuple[IngressRule, ...] | None = None


@dataclass(frozen=True)
class OriginRule:
    """An Origin Rule (`http_request_origin` phase, action `route`): what it overrides.

    Later matching rules override earlier ones field by field (Cloudflare merges them).
    """

    id: str
    expression: str
    description: str = ""
    enabled: bool = True
    position: int = 0
    host_header: str = ""
    origin_host: str = ""  # the DNS record override ("resolve override")
    origin_port: int | None = None
    sni: str = ""

    @property
    def label(self) -> str:
        return f"Origin Rule {self.description!r}" if self.description else f"Origin Rule {self.id}"


@dataclass(frozen=True)
class CacheRule:
    """A Cache Rule (`http_request_cache_settings`) that sets the proxy read timeout."""

    id: str
    expression: str
    read_timeout: int
    description: str = ""
    enabled: bool = True
    position: int = 0

    @property
    def label(self) -> str:
        return f"Cache Rule {self.description!r}" if self.description else f"Cache Rule {self.id}"
