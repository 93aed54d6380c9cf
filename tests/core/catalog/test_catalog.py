"""The catalogue: the built-in measurements, sensors and kits, lists, lookups by id and key."""

from __future__ import annotations

import pytest

from tests.conftest import Account
from thingport.core.catalog import builtin
from thingport.core.devices.schemas import DeviceCreate
from thingport.kit.errors import InvalidInput, NotFound
from thingport.kit.listing import Filter, ListQuery, SortKey
from thingport.platform import Platform


async def _install(platform: Platform) -> None:
    async with platform.core() as core:
        await core.catalog.install_builtin()


async def test_builtin_catalogue_installs_idempotently(platform: Platform) -> None:
    await _install(platform)
    await _install(platform)
    async with platform.core() as core:
        sensors = await core.catalog.list_sensors(ListQuery(limit=1000))
        measurements = await core.catalog.list_measurements(ListQuery(limit=1000))
        kits = await core.catalog.list_kits(ListQuery())
    assert sensors.total == len(builtin.SENSORS)
    assert [s.id for s in sensors.items] == sorted(s.id for s in builtin.SENSORS)
    assert measurements.total == len(builtin.MEASUREMENTS)
    assert [k.slug for k in kits.items] == ["sck:1,0", "sck:1,1", "sck:2,1"]
    assert {k.name: len(k.sensors) for k in kits.items} == {
        kit.name: len(kit.sensor_ids) for kit in builtin.KITS
    }
    # Every measurement and sensor has a description, and every kit sensor a unique key.
    assert all(m.description for m in measurements.items)
    assert all(s.description for s in sensors.items)
    for kit in kits.items:
        keys = [s.default_key for s in kit.sensors]
        assert None not in keys, kit.name
        assert len(set(keys)) == len(keys), kit.name


async def test_same_ids_and_uuids_on_every_install(platform: Platform) -> None:
    await _install(platform)
    async with platform.core() as core:
        battery = await core.catalog.get_sensor(10)
        kit = await core.catalog.get_kit(26)
    assert battery.uuid == builtin.stable_uuid("sensor", 10)
    assert battery.name == "Battery"
    assert battery.description == "Custom Circuit"
    assert battery.unit == "%"
    assert battery.measurement is not None
    assert battery.measurement.id == 7
    assert battery.measurement.name == "battery"
    assert kit.uuid == builtin.stable_uuid("kit", 26)
    assert (kit.name, kit.slug, kit.version) == ("SmartCitizen Kit 2.1", "sck:2,1", "2.1")


async def test_sensor_hierarchy_of_the_seed(platform: Platform) -> None:
    await _install(platform)
    async with platform.core() as core:
        page = await core.catalog.list_sensors(
            ListQuery(filters=(Filter("id", "lt", "6"),), sort=(SortKey("id"),))
        )
    by_id = {s.id: s for s in page.items}
    assert list(by_id) == [3, 4, 5]
    assert by_id[3].parent_id is None
    assert by_id[3].unit is None
    assert (by_id[4].name, by_id[4].unit, by_id[4].parent_id) == ("DHT22 - Temperature", "ºC", 3)
    assert (by_id[5].name, by_id[5].unit, by_id[5].parent_id) == ("DHT22 - Humidity", "%", 3)


async def test_lists_filter_sort_and_page(platform: Platform) -> None:
    await _install(platform)
    async with platform.core() as core:
        celsius = await core.catalog.list_sensors(ListQuery(filters=(Filter("unit", "eq", "ºC"),)))
        children = await core.catalog.list_sensors(
            ListQuery(filters=(Filter("parent_id", "eq", 3),), sort=(SortKey("id", True),))
        )
        second = await core.catalog.list_sensors(ListQuery(offset=2, limit=2))
        named = await core.catalog.list_measurements(
            ListQuery(filters=(Filter("name", "cont", "PM"),))
        )
        with pytest.raises(InvalidInput):
            await core.catalog.list_sensors(ListQuery(filters=(Filter("default_key", "eq", "x"),)))
    assert {s.id for s in celsius.items} == {4, 12, 55}
    assert [s.id for s in children.items] == [5, 4]
    assert [s.id for s in second.items] == [5, 6]
    assert second.total == len(builtin.SENSORS)
    assert [m.name for m in named.items] == ["PM 1", "PM 2.5", "PM 10"]


async def test_missing_records_are_not_found(platform: Platform, alice: Account) -> None:
    await _install(platform)
    async with platform.core() as core:
        # A device type without sensors is not a kit.
        await core.devices.create(alice.principal, DeviceCreate(type="thermostat"))
        plain = await core.devices.create(alice.principal, DeviceCreate(type="thermostat"))
        assert plain.type_id is not None
        for call in (
            core.catalog.get_sensor(9999),
            core.catalog.get_measurement(1),
            core.catalog.get_kit(9999),
            core.catalog.get_kit(plain.type_id),
        ):
            with pytest.raises(NotFound):
                await call


async def test_new_rows_get_ids_after_the_builtin_ones(platform: Platform, alice: Account) -> None:
    """On PostgreSQL the id sequence must have moved past the explicit ids."""
    await _install(platform)
    async with platform.core() as core:
        device = await core.devices.create(alice.principal, DeviceCreate(type="weather station"))
    assert device.type_id is not None
    assert device.type_id > max(k.id for k in builtin.KITS)


async def test_a_type_of_the_same_name_made_before_is_adopted(
    platform: Platform, alice: Account
) -> None:
    async with platform.core() as core:
        early = await core.devices.create(alice.principal, DeviceCreate(type="SCK 1.1"))
    await _install(platform)
    async with platform.core() as core:
        kits = await core.catalog.list_kits(ListQuery())
        sensors = await core.catalog.sensors_for_types([early.type_id or 0])
    assert [k.name for k in kits.items].count("SCK 1.1") == 1
    assert [s.id for s in sensors[early.type_id or 0]] == [7, 12, 13, 14, 15, 16, 17, 18, 21]


async def test_sensors_for_types_and_by_ids(platform: Platform) -> None:
    await _install(platform)
    async with platform.core() as core:
        by_type = await core.catalog.sensors_for_types([2, 26, 9999])
        by_id = await core.catalog.sensors_by_ids([3, 55, 9999])
    assert [s.id for s in by_type[2]] == [4, 5, 6, 7, 8, 9, 10, 11, 21]
    assert [s.default_key for s in by_type[26]][:3] == ["bat", "light", "noise_a"]
    assert by_type[9999] == []
    assert sorted(by_id) == [3, 55]
    assert by_id[55].series_key == "55"


async def test_find_sensors_by_id_or_key(platform: Platform) -> None:
    await _install(platform)
    async with platform.core() as core:
        catalog = core.catalog

        async def found(ref: int | str, type_id: int | None = None, *also: int) -> int | None:
            sensor = await catalog.find_sensor(ref, type_id=type_id, also_ids=also)
            return sensor.id if sensor is not None else None

        # Ids, as numbers or digit strings; unknown ones are absent.
        many = await catalog.find_sensors([55, "56", 9999])
        assert {ref: s.id for ref, s in many.items()} == {55: 55, "56": 56}
        # "temp" is a key on several kits: the device's kit decides.
        assert await found("temp", 2) == 4
        assert await found("temp", 3) == 12
        # Without a kit an ambiguous key matches nothing, a unique one matches anywhere.
        assert await found("temp") is None
        assert await found("sht31_t") == 55
        assert await found("sht31_t", 2) == 55
        # Sensors the device already has readings of count too, after its kit's.
        assert await found("temp", None, 12) == 12
        assert await found("temp", 2, 12) == 4
        assert await found("nothing", 26) is None
