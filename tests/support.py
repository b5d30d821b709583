"""What several test modules share that is not a fixture: vendored documents, environment checks."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]  # the repository
VENDORED = Path(__file__).parent / "vendored"  # documents the tests validate against (SOURCES.md)
OPENAPI_SUBSET = VENDORED / "cloudflare-openapi-2024-08.subset.json"
SARIF_SCHEMA = VENDORED / "sarif-schema-2.1.0.json"
JUNIT_XSD = VENDORED / "junit-10.xsd"


# Where the CLI's API goes unless a test points it at a sandbox: the discard port on loopback,
# where nothing listens (connection refused at once). Without it a command run with a token
# and no CLOUDFLARE_BASE_URL would try Cloudflare's real API.
NO_API = "http://127.0.0.1:9/client/v4"


def clean_env(*drop: str) -> dict[str, str]:
    """This process's environment for a CLI subprocess: no CLOUDFLARE_* or CFREMEDY_* variable
    of the developer's (a real token, a real state directory), nor any variable in `drop`, and
    the API on `NO_API` until the test says where its sandbox is."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "CFREMEDY_")) and k not in drop}
    return {**kept, "CLOUDFLARE_BASE_URL": NO_API}


def netns_available() -> bool:
    """Whether this machine lets a test create a private network namespace (root + unshare)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


# Where namespaces are unavailable, the --connect-to tests cover the same code against loopback.
requires_netns = pytest.mark.skipif(not netns_available(), reason="needs root, unshare -n and ip")
