"""The sandbox API in a child process, for benchmarks.

Measuring the auditor needs the server out of its process: sharing one interpreter (and its
GIL) would make the figures measure the fake server's CPU, and its memory.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection

from cfremedy.sandbox.api import SandboxApi
from cfremedy.sandbox.scenario import Scenario


def _serve(spec: Scenario, pipe: Connection) -> None:
    with SandboxApi(spec) as api:
        pipe.send((api.url, api.control_url))
        pipe.recv()  # run until the parent says stop


@contextmanager
def sandbox_in_child(spec: Scenario) -> Iterator[tuple[str, str]]:
    """(API base URL, control URL) of a sandbox serving `spec` from a forked child."""
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(spec, child), daemon=True)
    server.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        server.join(timeout=10)
