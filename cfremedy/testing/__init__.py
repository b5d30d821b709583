"""Testing playbooks the way cfremedy tests its own: one strict YAML case file per playbook.

For a playbook of your own (loaded with `--playbooks-dir`), write `cases/<id>.yml` (see
`cfremedy.testing.schema` and CONTRIBUTING.md for the format) and either run

    cfremedy playbooks test cases/ --playbooks-dir my_playbooks/

or, in your own pytest suite:

    from cfremedy.testing import case_params, check_case

    @pytest.mark.parametrize(("playbook", "case"), case_params(CASES, [MY_PLAYBOOKS]))
    def test_case(playbook, case):
        check_case(playbook, case)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cfremedy.testing.cases import (
    NOW,
    CaseFailure,
    CaseResult,
    build_facts,
    case_files,
    check_case,
    load_case_file,
    run_directory,
)
from cfremedy.testing.schema import Case, CaseFile

__all__ = [
    "NOW",
    "Case",
    "CaseFailure",
    "CaseFile",
    "CaseResult",
    "build_facts",
    "case_files",
    "case_params",
    "check_case",
    "load_case_file",
    "run_directory",
]


def case_params(directory: Path, playbooks_dirs: Sequence[Path] = ()) -> list[Any]:
    """`pytest.param(playbook, case)` for every case in `directory`, ids "<playbook>: <case>"."""
    import pytest

    from cfremedy.registry import load_registry

    registry = load_registry(playbooks_dirs)
    return [
        pytest.param(registry.get(case_file.playbook), case, id=f"{case_file.playbook}: {case.name}")
        for _, case_file in case_files(directory)
        for case in case_file.cases
    ]
