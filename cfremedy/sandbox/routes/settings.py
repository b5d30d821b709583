"""Zone settings routes: all of a zone's settings or one, read and edited.

A bulk `PATCH /zones/{zone_id}/settings` takes `{"items": [{"id", "value"}, ...]}` and applies
every edit or none; an unknown setting id answers 404 on the single-setting routes and 400
inside a bulk edit, where the route itself exists. What a setting may be set to, and on which
plan, is `settings_catalog.py`'s; the edits themselves are `SandboxState`'s. One module per
resource, so that each handler sits next to the request shape it understands.
"""

from __future__ import annotations

from typing import Any

from cfremedy.sandbox.envelope import Reply, ok
from cfremedy.sandbox.errors import ERR_BAD_REQUEST, SandboxError
from cfremedy.sandbox.routing import Call, Server, zone_of


def get_settings(api: Server, call: Call) -> Reply:
    return ok(api.state.settings(zone_of(call).id))


def patch_settings(api: Server, call: Call) -> Reply:
    items = call.body.get("items") if isinstance(call.body, dict) else None
    if not isinstance(items, list) or not items:
        message = 'Request body must be {"items": [{"id": ..., "value": ...}, ...]}'
        raise SandboxError(400, (ERR_BAD_REQUEST, message))
    edits: list[tuple[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item or "value" not in item:
            message = f"items[{index}] must have an id and a value"
            raise SandboxError(400, (ERR_BAD_REQUEST, message))
        edits.append((item["id"], item["value"]))
    return ok(api.state.edit_settings(zone_of(call).id, edits, status_unknown=400))


def get_setting(api: Server, call: Call) -> Reply:
    return ok(api.state.setting(zone_of(call).id, call.params["setting_id"]))


def patch_setting(api: Server, call: Call) -> Reply:
    zone_id, setting_id = zone_of(call).id, call.params["setting_id"]
    api.state.setting(zone_id, setting_id)  # 404 for an unknown id before looking at the body
    if not isinstance(call.body, dict) or "value" not in call.body:
        raise SandboxError(400, (ERR_BAD_REQUEST, 'Request body must be {"value": ...}'))
    edits = [(setting_id, call.body["value"])]
    return ok(api.state.edit_settings(zone_id, edits, status_unknown=404)[0])
