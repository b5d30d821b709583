"""The playbook list as data: what `cfremedy playbooks list --format json` prints.

A stable, versioned shape (docs/architecture.md, "The playbook list") for scripts that choose
playbooks, grant a token its permissions, or link the docs: everything the table shows, plus
what only a program needs (the sources a playbook reads, whether it probes origins, where it
was loaded from). Pure: metadata in, plain dicts out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cfremedy.models import PlaybookMeta

SCHEMA_VERSION = 1


def playbook_dict(playbook: PlaybookMeta) -> dict[str, Any]:
    return {
        "id": playbook.id,
        "title": playbook.title,
        "summary": playbook.summary,
        "severity": playbook.severity.value,
        "error_codes": list(playbook.error_codes),
        "docs_url": playbook.docs_url,
        "read_permissions": list(playbook.read_permissions),
        "write_permissions": list(playbook.write_permissions),
        "automatic_fix": bool(playbook.write_permissions),
        "reads": list(playbook.reads),
        "uses_probes": playbook.uses_probes,
        "builtin": playbook.builtin,
        "source": playbook.source,
    }


def catalog_dict(playbooks: Sequence[PlaybookMeta]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "playbooks": [playbook_dict(p) for p in playbooks]}
