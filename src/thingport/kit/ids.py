"""Identifiers handed to the outside world."""

from __future__ import annotations

import secrets


def device_key() -> str:
    """A 16-hex-digit device id in the Smart Mocha style, e.g. D0A0D862CC766B7A."""
    return secrets.token_hex(8).upper()
