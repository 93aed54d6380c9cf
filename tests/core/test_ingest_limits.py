from __future__ import annotations

import pytest

from tests.conftest import Account
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.schemas import Reading
from thingport.kit.errors import InvalidInput
from thingport.platform import Platform


@pytest.mark.parametrize("value", [1e101, -1e308, float("inf"), float("nan")])
async def test_out_of_range_values_are_rejected_whole(
    platform: Platform, alice: Account, value: float
) -> None:
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key="LIMITS"))
    with pytest.raises(InvalidInput, match="value"):
        async with platform.core() as core:
            ref = await core.devices.resolve(alice.principal, "LIMITS")
            await core.telemetry.ingest_for(
                ref, [Reading("ok", 1.0, 1000), Reading("ok", value, 2000)]
            )
    async with platform.core() as core:
        ref = await core.devices.resolve(alice.principal, "LIMITS")
        assert (await core.telemetry.series_of_devices([ref.id]))[ref.id] == []
        await core.telemetry.ingest_for(ref, [Reading("ok", 1e100, 3000)])  # the bound itself
