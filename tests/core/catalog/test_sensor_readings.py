"""Core.sensor_readings: values named by sensor id or kit key become readings of the device's
series, and what cannot is refused with a typed reason; on both backends."""

from __future__ import annotations

from tests.conftest import Account
from thingport.core.catalog.sensor_readings import SensorValue
from thingport.core.devices.schemas import DeviceCreate
from thingport.platform import Platform

KIT_21 = 26  # SmartCitizen Kit 2.1: sensor 55 (temperature) under 54 (the SHT31 grouping it)
TS = 1_700_000_000_000


async def test_ids_and_kit_keys_resolve_and_the_rest_is_refused_with_a_reason(
    platform: Platform, alice: Account
) -> None:
    async with platform.core() as core:
        await core.catalog.install_builtin()
        device = await core.devices.create(alice.principal, DeviceCreate(type_id=KIT_21))
        kit = await core.catalog.get_kit(KIT_21)
        keyed = next(s for s in kit.sensors if s.default_key and s.id != 55)
        readings, refused = await core.sensor_readings(
            device.id,
            KIT_21,
            [
                SensorValue("first", 55, 21.5, TS),
                SensorValue("second", "55", 22.0, TS),
                SensorValue("third", keyed.default_key or "", 1.0, TS),
                SensorValue("fourth", 99999, 1.0, TS),
                SensorValue("fifth", "no-such-key", 1.0, TS),
                SensorValue("sixth", 54, 1.0, TS),
            ],
        )
    assert [(r.key, r.value) for r in readings] == [
        ("55", 21.5),
        ("55", 22.0),
        (str(keyed.id), 1.0),
    ]
    assert readings[0].unit is not None
    assert [(r.entry.where, r.reason) for r in refused] == [
        ("fourth", "unknown_sensor"),
        ("fifth", "unknown_sensor"),
        ("sixth", "grouping_sensor"),
    ]
    assert refused[2].sensor is not None
    assert refused[2].sensor.id == 54
    assert "99999" in refused[0].message
    assert "groups other sensors" in refused[2].message
