"""Tests of cfremedy's reporters."""
