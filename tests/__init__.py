"""cfremedy's test suite; its layout mirrors the package (see CONTRIBUTING.md)."""
