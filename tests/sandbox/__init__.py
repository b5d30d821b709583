"""Tests of cfremedy's sandbox."""
