"""Tests of cfremedy's probes."""
