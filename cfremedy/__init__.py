"""cfremedy: find and safely fix the Cloudflare misconfigurations behind 5xx errors."""

from __future__ import annotations

import functools


@functools.cache
def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cfremedy")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


def __getattr__(name: str) -> str:
    """`__version__`, read from the installed metadata only when asked: importlib.metadata
    costs more than every other module `cfremedy --help` needs."""
    if name != "__version__":
        raise AttributeError(f"module 'cfremedy' has no attribute {name!r}")
    return _installed_version()
