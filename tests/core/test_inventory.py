"""The inventory file (README, "The inventory"): strict parsing with errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfremedy.errors import EXIT_USAGE, UsageError
from cfremedy.inventory import load_inventory

GOOD = """
[zones."Example.com.".origins]
"WWW.example.com." = ["93.184.215.10"]
"api.example.com" = ["93.184.215.20", "2606:2800:21f::20"]

[[zones."Example.com.".slow_endpoints]]
hostname = "API.example.com"
path = "/export"
seconds = 300
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.toml"
    path.write_text(text)
    return path


def test_parses_and_normalises_names(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, GOOD))
    zone = inventory.for_zone("example.com.")
    assert zone.origins_for("www.example.com") == ("93.184.215.10",)
    assert zone.origins_for("API.example.com") == ("93.184.215.20", "2606:2800:21f::20")
    (endpoint,) = zone.slow_endpoints
    assert (endpoint.hostname, endpoint.path, endpoint.seconds) == ("api.example.com", "/export", 300)
    assert inventory.for_zone("other.com").origins == {}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('[zones."e.com".origins]\n"w.e.com" = ["300.1.2.3"]\n', "zones.e.com.origins"),
        ('[zones."e.com"]\norigin = {}\n', "zones.e.com.origin: Extra inputs are not permitted"),
        ('[[zones."e.com".slow_endpoints]]\nhostname = "a"\nseconds = -1\n', "zones.e.com.slow_endpoints.0.seconds"),
        (
            '[[zones."e.com".slow_endpoints]]\nhostname = "a"\nseconds = "slow"\n',
            "zones.e.com.slow_endpoints.0.seconds",
        ),
        ("zones = [\n", "invalid TOML"),
        ('[[zones."e.com".slow_endpoints]]\nhostname = "a"\nseconds = "300"\n', "seconds"),
        ('[[zones."e.com".slow_endpoints]]\nhostname = "a"\nseconds = true\n', "seconds"),
        ('[[zones."e.com".slow_endpoints]]\nhostname = "a"\nseconds = inf\n', "seconds"),
        ('[zones."e.com".origins]\n"w.e.com" = []\n', "list at least one address"),
        ('[zonez."e.com"]\n', "zonez: Extra inputs are not permitted"),
    ],
)
def test_bad_input_names_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as caught:
        load_inventory(path)
    assert str(path) in caught.value.message
    assert fragment in caught.value.message
    assert caught.value.exit_code == EXIT_USAGE


def test_bad_address_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[zones."e.com".origins]\n"w.e.com" = ["300.1.2.3"]\n')
    with pytest.raises(UsageError, match="'300.1.2.3' is not an IP address"):
        load_inventory(path)


def test_names_differing_only_in_case_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[zones."E.com"]\n[zones."e.com."]\n')
    with pytest.raises(UsageError, match="zones: 'E.com' and 'e.com.' name the same host"):
        load_inventory(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read inventory"):
        load_inventory(tmp_path / "nope.toml")
