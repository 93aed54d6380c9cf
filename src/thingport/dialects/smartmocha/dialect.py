"""Smart Mocha as the platform mounts it (registry.py)."""

from __future__ import annotations

from thingport.dialects.protocol import DialectSpec
from thingport.dialects.smartmocha.router import build_app

SMART_MOCHA = DialectSpec(
    name="Smart Mocha", prefix="/smartmocha", version_path="/v0", builder=build_app
)
