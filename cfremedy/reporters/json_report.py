"""`--format json`: the report of docs/architecture.md ("The JSON report"), indented, keys in contract order."""

from __future__ import annotations

import json

from cfremedy.models import Report
from cfremedy.report import report_dict


def render_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False, default=str) + "\n"
