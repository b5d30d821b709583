"""How many origins one process can probe at once: its file-descriptor limit decides.

Each probe slot holds a few sockets at a time (port 443 and port 80 side by side, a DNS query,
an OCSP request), and 500 slots once used 1,013 descriptors: over the 1,024 soft limit many
systems start a process with, where the next `connect()` fails with EMFILE and a healthy
origin looks dead. So the run raises its soft limit toward the hard one (as servers do), and
sizes the pool from what it got, keeping room for the API client, the journal and the files.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

log = logging.getLogger("cfremedy.probes")

DESCRIPTORS_PER_SLOT = 3
RESERVED = 64  # the API's connections, SQLite, reports, the interpreter's own
DEFAULT_MAX = 500  # slots: beyond this a run is bound by the network, not by waiting
RAISE_TO = 8192  # how far the soft limit is raised when the hard one allows


@dataclass(frozen=True)
class Sizing:
    concurrency: int
    descriptors: int  # the soft limit the run has
    note: str = ""  # said when a requested --probe-concurrency had to be lowered


def open_files_limit(raise_to: int = RAISE_TO) -> int:
    """The process's soft limit on open files, first raised toward `raise_to` if allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = raise_to if hard == resource.RLIM_INFINITY else min(hard, raise_to)
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
            soft = ceiling
        except (ValueError, OSError):
            pass
    return RAISE_TO if soft == resource.RLIM_INFINITY else soft


def fit(requested: int | None, descriptors: int) -> Sizing:
    """The concurrency a run uses: the request, or the default, within the descriptors."""
    room = max(1, (descriptors - RESERVED) // DESCRIPTORS_PER_SLOT)
    if requested is None:
        return Sizing(min(DEFAULT_MAX, room), descriptors)
    if requested <= room:
        return Sizing(requested, descriptors)
    return Sizing(
        room,
        descriptors,
        f"--probe-concurrency {requested} needs about {requested * DESCRIPTORS_PER_SLOT + RESERVED} open files;"
        f" this process may open {descriptors}: probing {room} origins at a time (raise `ulimit -n` for more)",
    )


def size(requested: int | None) -> Sizing:
    return fit(requested, open_files_limit())
