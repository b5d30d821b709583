"""Sizing the probe pool from the open-files limit (`cfremedy.probes.limits`).

The limit is a property of the process, so each case runs a fresh interpreter started under
the limits it names (`preexec_fn` sets them between fork and exec), as `ulimit -n` would.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Callable

from cfremedy.probes.limits import DEFAULT_MAX, DESCRIPTORS_PER_SLOT, RESERVED, fit

SIZE = (
    "from cfremedy.probes.limits import size; s = size({requested}); print(s.concurrency, s.descriptors); print(s.note)"
)


def limited(soft: int, hard: int) -> Callable[[], None]:
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def sized(requested: int | None, soft: int, hard: int) -> tuple[int, int, str]:
    proc = subprocess.run(
        [sys.executable, "-c", SIZE.format(requested=requested)],
        preexec_fn=limited(soft, hard),
        capture_output=True,
        text=True,
        check=True,
    )
    first, note = proc.stdout.splitlines()
    concurrency, descriptors = map(int, first.split())
    return concurrency, descriptors, note


def test_the_default_fits_the_descriptors_left_after_the_reserve() -> None:
    assert fit(None, 1024).concurrency == (1024 - RESERVED) // DESCRIPTORS_PER_SLOT == 320
    assert fit(None, 100_000).concurrency == DEFAULT_MAX
    assert fit(None, 10).concurrency == 1  # never none at all


def test_a_request_that_fits_is_kept_and_one_that_does_not_is_lowered_saying_so() -> None:
    kept = fit(50, 1024)
    assert kept.concurrency == 50 and not kept.note
    lowered = fit(1000, 1024)
    assert lowered.concurrency == 320
    assert "--probe-concurrency 1000 needs about 3064 open files" in lowered.note and "ulimit -n" in lowered.note


def test_a_low_soft_limit_is_raised_toward_the_hard_one() -> None:
    assert sized(None, 256, 4096) == (DEFAULT_MAX, 4096, "")


def test_a_low_hard_limit_sizes_the_pool_down() -> None:
    concurrency, descriptors, note = sized(None, 256, 256)
    assert (concurrency, descriptors, note) == ((256 - RESERVED) // DESCRIPTORS_PER_SLOT, 256, "")
    concurrency, _, note = sized(500, 256, 256)
    assert concurrency == 64 and "this process may open 256" in note
