"""Account routes: an account's Cloudflare Pages projects.

`GET /accounts/{account_id}/pages/projects` lists the account's projects in scenario order, in
pages of 1-10 (default 10: the 2024 document gives no limit; wrangler pages this list 10 at a
time). Which accounts a token sees is `access.py`'s, checked before the handler runs. One
module per resource, so that each handler sits next to the queries it understands.
"""

from __future__ import annotations

from cfremedy.sandbox.envelope import Reply, ok
from cfremedy.sandbox.query import page_of, pagination
from cfremedy.sandbox.routing import Call, Server

PAGES_DEFAULT_PER_PAGE = 10
PAGES_MIN_PER_PAGE = 1
PAGES_MAX_PER_PAGE = 10


def list_pages_projects(api: Server, call: Call) -> Reply:
    page, per_page = pagination(call.query, PAGES_DEFAULT_PER_PAGE, PAGES_MIN_PER_PAGE, PAGES_MAX_PER_PAGE)
    projects = api.state.pages_projects(call.params["account_id"])
    chunk, info = page_of(projects, page, per_page)
    return ok(list(chunk), info)
