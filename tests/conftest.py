"""Fixtures shared across the test suite; keep this file small and general."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cfremedy.sandbox.api import SandboxApi
from cfremedy.sandbox.scenario import Scenario, parse_scenario
from tests.support import NO_API, OPENAPI_SUBSET

# The terminal the suite runs in must not shape what the CLI prints: a COLUMNS=80 exported by the
# user's shell (or set by a test runner's workers) would wrap the tables every test that does
# not choose a width reads at the default (120), and NO_COLOR would hide what the colour tests
# look for. Tests that care pass these themselves.
for _variable in ("COLUMNS", "LINES", "NO_COLOR"):
    os.environ.pop(_variable, None)
# Nor may the developer's Cloudflare settings reach a test (a real token, a real state
# directory), and no test may reach Cloudflare's real API: whatever runs the CLI or builds
# `Settings` here without naming a sandbox gets a closed port on loopback (`NO_API`).
for _variable in [v for v in os.environ if v.startswith(("CLOUDFLARE_", "CFREMEDY_"))]:
    del os.environ[_variable]
os.environ["CLOUDFLARE_BASE_URL"] = NO_API


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
