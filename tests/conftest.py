"""Fixtures shared across the test suite; keep this file small and general."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cfremedy.sandbox.api import SandboxApi
from cfremedy.sandbox.scenario import Scenario, parse_scenario

VENDORED = Path(__file__).parent / "vendored"  # documents the tests validate against (SOURCES.md)
OPENAPI_SUBSET = VENDORED / "cloudflare-openapi-2024-08.subset.json"
SARIF_SCHEMA = VENDORED / "sarif-schema-2.1.0.json"
JUNIT_XSD = VENDORED / "junit-10.xsd"


@pytest.fixture(scope="session")
def openapi_doc() -> dict[str, Any]:
    """Cloudflare's published OpenAPI document, cut to the operations the sandbox serves."""
    return json.loads(OPENAPI_SUBSET.read_text(encoding="utf-8"))


SandboxFactory = Callable[[Scenario | dict[str, Any]], SandboxApi]


@pytest.fixture
def sandbox_factory() -> Iterator[SandboxFactory]:
    """Start a sandbox API for a scenario (model or dict); every one started is stopped after."""
    started: list[SandboxApi] = []

    def start(scenario: Scenario | dict[str, Any]) -> SandboxApi:
        model = scenario if isinstance(scenario, Scenario) else parse_scenario(scenario, "test")
        api = SandboxApi(model).start()
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()


def netns_available() -> bool:
    """Whether this machine lets a test create a private network namespace (root + unshare)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


# Where namespaces are unavailable, the --connect-to tests cover the same code against loopback.
requires_netns = pytest.mark.skipif(not netns_available(), reason="needs root, unshare -n and ip")
