"""Tests of cfremedy's core."""
