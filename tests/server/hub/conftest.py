"""Fixtures of the hub conformance suite."""

from tests.server.dial import dial

__all__ = ["dial"]
