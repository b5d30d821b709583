"""The writes cfremedy can send: one setting, one record, a batch of records.

They live on `WritableGateway` only, which `apply` and `rollback` open and nothing else does:
the audit pipeline is typed against `CloudflareGateway`, which has no write method, and its
transport refuses a write even if one were reached some other way.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfremedy.errors import ApiError
from cfremedy.gateway import parse
from cfremedy.gateway.pages import envelope
from cfremedy.gateway.reads import CloudflareGateway, segment
from cfremedy.gateway.transport import Op
from cfremedy.models import DnsRecord, Zone


class WritableGateway(CloudflareGateway):
    """Reads and writes: for `apply` and `rollback` only."""

    _WRITES: ClassVar[bool] = True

    async def __aenter__(self) -> WritableGateway:
        await super().__aenter__()
        return self

    async def edit_setting(self, zone: Zone, setting_id: str, value: Any) -> Any:
        what = f"set {setting_id} of {zone.name} to {value!r}"
        body = await self._transport.send(
            Op(what, "Zone Settings Write", write=True),
            "PATCH",
            f"/zones/{segment(zone.id, 'zone id')}/settings/{segment(setting_id, 'setting')}",
            {"value": value},
        )
        result = envelope(body, what)
        if not isinstance(result, dict):
            raise ApiError(f"unexpected answer to {what}: no result")
        return result.get("value")

    async def edit_record(self, zone: Zone, record_id: str, fields: dict[str, Any]) -> DnsRecord:
        # A PATCH of the fields the plan names: a partial update has no reason to send (or to
        # overwrite) the others, `ttl` included.
        what = f"edit DNS record {record_id} of {zone.name}"
        body = await self._transport.send(
            Op(what, "DNS Write", write=True),
            "PATCH",
            f"/zones/{segment(zone.id, 'zone id')}/dns_records/{segment(record_id, 'DNS record')}",
            fields,
        )
        return parse.convert(parse.record, envelope(body, what), f"DNS record {record_id}")

    async def batch_edit_records(self, zone: Zone, patches: list[tuple[str, dict[str, Any]]]) -> list[DnsRecord]:
        """Several record edits in one atomic request: all are applied or none is."""
        what = f"edit {len(patches)} DNS records of {zone.name}"
        body = await self._transport.send(
            Op(what, "DNS Write", write=True),
            "POST",
            f"/zones/{segment(zone.id, 'zone id')}/dns_records/batch",
            {"patches": [{"id": rid, **fields} for rid, fields in patches]},
        )
        result = envelope(body, what)
        patched = result.get("patches") if isinstance(result, dict) else None
        if not isinstance(patched, list):
            raise ApiError(f"unexpected answer to {what}: no `patches` list")
        return [parse.convert(parse.record, r, what) for r in patched if r is not None]
