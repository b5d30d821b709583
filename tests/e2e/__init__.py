"""Tests of cfremedy's e2e."""
