"""Tests of cfremedy's gateway."""
