"""SmartCitizen as the platform mounts it (registry.py)."""

from __future__ import annotations

from thingport.dialects.protocol import DialectSpec
from thingport.dialects.smartcitizen.app import build_app

SMARTCITIZEN = DialectSpec(
    name="SmartCitizen", prefix="/smartcitizen", version_path="/v0", builder=build_app
)
