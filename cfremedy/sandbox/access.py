"""What a token may see: zones through its zone globs, accounts through their zones.

A token's `zones` are globs over zone names; a zone outside them answers like a zone that does
not exist. Accounts (routes under `/accounts/{account_id}`): tokens have no account list of
their own. A token sees an account when it sees one of that account's zones, or when its zone
globs include `*` (an unscoped token sees every account of the scenario, also one that has only
Pages projects). An account the token cannot see, or one the scenario does not know, answers
403 10000 "Authentication error" (the answer commonly reported from the live API, e.g. by
wrangler users, for an account id the token has no access to). The server applies both before
a handler runs, and the handlers that find zones themselves (`GET /zones`, GraphQL) use the
same test, which is why it is a module of its own.
"""

from __future__ import annotations

import fnmatch

from cfremedy.sandbox.scenario import TokenSpec
from cfremedy.sandbox.state import SandboxState
from cfremedy.sandbox.zone import ZoneState


def zone_visible(token: TokenSpec | None, zone: ZoneState) -> bool:
    return token is not None and any(fnmatch.fnmatchcase(zone.name, g.lower()) for g in token.zones)


def account_visible(state: SandboxState, token: TokenSpec | None, account_id: str) -> bool:
    if token is None or account_id not in state.accounts():
        return False
    if "*" in token.zones:
        return True
    return any(z.account_id == account_id and zone_visible(token, z) for z in state.all_zones())
