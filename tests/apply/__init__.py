"""Tests of cfremedy's apply."""
