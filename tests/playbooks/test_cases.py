"""Every playbook against its case file, through the runner shipped in `cfremedy.testing`.

One YAML file per playbook in tests/playbooks/cases/ (sqlfluff style): a zone as the API and
the probes would describe it, and the exact findings and changes expected. Plain data in, no
I/O; the same runner serves people who write their own playbooks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cfremedy.registry import Playbook
from cfremedy.testing import Case, case_params, check_case

CASES = Path(__file__).parent / "cases"


@pytest.mark.parametrize(("playbook", "case"), case_params(CASES))
def test_case(playbook: Playbook, case: Case) -> None:
    check_case(playbook, case)
