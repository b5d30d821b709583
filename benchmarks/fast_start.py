"""How long `cfremedy --help` and `cfremedy --version` take, next to `python -c pass`.

Each command is started RUNS times in turn with the bare interpreter (pairing keeps the figures
fair on a machine whose speed drifts), and the medians are printed beside the goal of issue 15:
both under 0.35 s of wall time on this machine.

    python benchmarks/fast_start.py --runs 20
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL = 0.35
CFREMEDY = str(Path(sys.executable).with_name("cfremedy"))


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    bare = [sys.executable, "-c", "pass"]
    met = True
    for flag in ("--help", "--version"):
        wall([CFREMEDY, flag])  # warm the file cache
        pairs = [(wall([CFREMEDY, flag]), wall(bare)) for _ in range(args.runs)]
        ours = statistics.median(a for a, _ in pairs)
        python = statistics.median(b for _, b in pairs)
        met &= ours <= GOAL
        print(
            f"cfremedy {flag:<9} median {ours:.3f} s (python -c pass {python:.3f} s)"
            f"   goal: <= {GOAL} s   {'met' if ours <= GOAL else 'MISSED'}"
        )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
