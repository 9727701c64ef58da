"""Fixtures of the WebSocket and REST conformance suite."""

from tests.server.dial import dial

__all__ = ["dial"]
