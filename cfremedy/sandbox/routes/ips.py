"""`GET /ips`: Cloudflare's published IP ranges, without authentication.

The ranges are the packaged `cfremedy/data/cloudflare-ips.json` (the file the audit reads
too), read once and answered with an etag derived from them. A module of its own because it
is the one route that needs no token and no zone.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from cfremedy.sandbox.envelope import Reply, ok
from cfremedy.sandbox.routing import Call, Server
from cfremedy.sandbox.scenario import stable_id

_IPS_CACHE: dict[str, Any] = {}


def _ips() -> dict[str, Any]:
    if not _IPS_CACHE:
        packaged = resources.files("cfremedy") / "data" / "cloudflare-ips.json"
        data = json.loads(packaged.read_text(encoding="utf-8"))
        v4, v6 = list(data["ipv4_cidrs"]), list(data["ipv6_cidrs"])
        etag = stable_id("ips", *v4, *v6)
        _IPS_CACHE.update({"ipv4_cidrs": v4, "ipv6_cidrs": v6, "etag": etag})
    return dict(_IPS_CACHE)


def cloudflare_ips(api: Server, call: Call) -> Reply:
    return ok(_ips())
