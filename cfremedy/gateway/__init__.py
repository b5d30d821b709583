"""The only package that talks to the Cloudflare API, through the official `cloudflare` SDK.

- `transport`: one SDK client, the rate limiter, retries (ours, honouring `Retry-After`) and
  every failure turned into one clear `ApiError`;
- `pages`: the one paginator, with the termination rules a hostile or buggy server needs;
- `parse`: the API's JSON to cfremedy's frozen models, refusing what cannot be one;
- `reads`: `CloudflareGateway`, every read, and nothing that writes;
- `writes`: `WritableGateway`, which apply and rollback alone open.
"""

from cfremedy.gateway.reads import (
    CONFIG_RULES_PHASE,
    DNS_PER_PAGE,
    PAGES_PER_PAGE,
    ZONES_PER_PAGE,
    CloudflareGateway,
    TokenStatus,
)
from cfremedy.gateway.transport import GRAPHQL_RATE, RetryPolicy, WritesNotAllowed
from cfremedy.gateway.writes import WritableGateway

__all__ = [
    "CONFIG_RULES_PHASE",
    "DNS_PER_PAGE",
    "PAGES_PER_PAGE",
    "ZONES_PER_PAGE",
    "GRAPHQL_RATE",
    "CloudflareGateway",
    "RetryPolicy",
    "TokenStatus",
    "WritableGateway",
    "WritesNotAllowed",
]
