"""Workflow tests use the session-wide time-skipping ``env`` fixture from tests/conftest.py."""
