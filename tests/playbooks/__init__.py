"""Tests of cfremedy's playbooks."""
