"""Tests of cfremedy's cli."""
