"""What a playbook declares about itself: the metadata reporters, docs and `doctor` read.

Kept apart from the functions (`registry.Playbook` adds `detect` and `plan_fix`) so that
reporters depend on the data, not on the module loader.
"""

from __future__ import annotations

from dataclasses import dataclass

from cfremedy.models.common import Severity


@dataclass(frozen=True)
class PlaybookMeta:
    id: str
    title: str
    severity: Severity
    error_codes: tuple[int, ...]
    docs_url: str
    read_permissions: tuple[str, ...]
    write_permissions: tuple[str, ...]
    docstring: str
    source: str = ""  # file the module was loaded from
    builtin: bool = True
    # Optional in a module (default True): False lets an audit skip probing origins entirely.
    uses_probes: bool = True
    # Optional in a module: the data sources beyond settings, DNS and probes it needs read.
    reads: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        return self.docstring.strip().splitlines()[0] if self.docstring.strip() else self.title
