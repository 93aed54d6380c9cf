"""Device lists with filters, sorting, pages and distance order; tokens; deletion."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import Account
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.schemas import Reading
from thingport.kit.errors import Forbidden, InvalidInput, NotFound
from thingport.kit.listing import Filter, ListQuery, SortKey
from thingport.platform import Platform


async def _devices(platform: Platform, owner: Account, specs: list[dict[str, object]]) -> None:
    async with platform.core() as core:
        for spec in specs:
            await core.devices.create(owner.principal, DeviceCreate.model_validate(spec))


async def test_visibility_anonymous_sees_public_owner_sees_own(
    platform: Platform, alice: Account, bob: Account
) -> None:
    await _devices(
        platform,
        alice,
        [{"key": "a-pub", "public": True}, {"key": "a-priv", "public": False}],
    )
    await _devices(platform, bob, [{"key": "b-priv"}])
    async with platform.core() as core:
        anonymous = await core.devices.search(None, ListQuery())
        as_bob = await core.devices.search(bob.principal, ListQuery())
        as_alice = await core.devices.search(alice.principal, ListQuery())
    assert [d.key for d in anonymous.items] == ["a-pub"]
    assert anonymous.total == 1
    assert sorted(d.key for d in as_bob.items) == ["a-pub", "b-priv"]
    assert sorted(d.key for d in as_alice.items) == ["a-priv", "a-pub"]


async def test_filters_sort_and_pages(platform: Platform, alice: Account, bob: Account) -> None:
    await _devices(
        platform,
        alice,
        [
            {
                "key": f"d{i:02}",
                "name": f"Kit {i:02}",
                "public": True,
                "city": "Barcelona" if i % 2 else "Haarlem",
            }
            for i in range(12)
        ],
    )
    await _devices(platform, bob, [{"key": "bobs", "name": "Air kit", "public": True}])
    async with platform.core() as core:
        page = await core.devices.search(
            None,
            ListQuery(
                filters=(Filter("city", "eq", "Barcelona"), Filter("name", "cont", "kit 0")),
                sort=(SortKey("name", descending=True),),
                offset=1,
                limit=2,
            ),
        )
        by_owner = await core.devices.search(
            None, ListQuery(filters=(Filter("owner_username", "eq", "bob"),))
        )
        ids_in = await core.devices.search(
            None, ListQuery(filters=(Filter("key", "in", ("d01", "d03", "nope")),))
        )
        unnamed = await core.devices.search(
            None, ListQuery(filters=(Filter("description", "null", "true"),))
        )
    # Barcelona = odd i; "kit 0" = 00..09 -> 01 03 05 07 09, descending, skip one, take two.
    assert [d.name for d in page.items] == ["Kit 07", "Kit 05"]
    assert page.total == 5
    assert [d.key for d in by_owner.items] == ["bobs"]
    assert sorted(d.key for d in ids_in.items) == ["d01", "d03"]
    assert unnamed.total == 13


@pytest.mark.parametrize(
    "flt",
    [
        Filter("token_hash", "eq", "x"),
        Filter("id", "eq", "not-a-number"),
        Filter("public", "null", "maybe"),
    ],
)
async def test_unknown_field_or_bad_value_is_invalid_input(
    platform: Platform, alice: Account, flt: Filter
) -> None:
    async with platform.core() as core:
        with pytest.raises(InvalidInput):
            await core.devices.search(alice.principal, ListQuery(filters=(flt,)))


async def test_near_orders_by_distance_with_unlocated_devices_last(
    platform: Platform, alice: Account
) -> None:
    await _devices(
        platform,
        alice,
        [
            {"key": "london", "latitude": 51.5, "longitude": -0.12, "public": True},
            {"key": "nowhere", "public": True},
            {"key": "barcelona", "latitude": 41.39, "longitude": 2.17, "public": True},
            {"key": "paris", "latitude": 48.85, "longitude": 2.35, "public": True},
        ],
    )
    async with platform.core() as core:
        page = await core.devices.search(None, ListQuery(near=(41.40, 2.20)))
    assert [d.key for d in page.items] == ["barcelona", "paris", "london", "nowhere"]


async def test_device_token_is_shown_once_and_resolves_its_device(
    platform: Platform, alice: Account, bob: Account
) -> None:
    await _devices(platform, alice, [{"key": "kit"}])
    async with platform.core() as core:
        with pytest.raises(NotFound):
            await core.devices.issue_token(bob.principal, "kit")
        token = await core.devices.issue_token(alice.principal, "kit")
    assert len(token) == 6
    async with platform.core() as core:
        found = await core.devices.resolve_by_token(token)
        assert found is not None
        assert found.key == "kit"
        assert (
            await core.devices.resolve_by_token("ffffff" if token != "ffffff" else "000000") is None
        )
        assert (await core.devices.get(alice.principal, "kit")).has_token
        # A new token replaces the old one.
        newer = await core.devices.issue_token(alice.principal, "kit")
    async with platform.core() as core:
        assert newer == token or await core.devices.resolve_by_token(token) is None
        assert await core.devices.resolve_by_token(newer) is not None


async def test_delete_removes_device_series_and_points(
    platform: Platform, alice: Account, bob: Account
) -> None:
    await _devices(platform, alice, [{"key": "gone", "public": True}, {"key": "kept"}])
    async with platform.core() as core:
        await core.telemetry.ingest(alice.principal, "gone", [Reading("t", 1.0, 1000)])
        await core.telemetry.ingest(alice.principal, "kept", [Reading("t", 2.0, 1000)])
    async with platform.core() as core:
        # Bob may read the public device but not delete it.
        with pytest.raises(Forbidden):
            await core.delete_device(bob.principal, "gone")
    async with platform.core() as core:
        await core.delete_device(alice.principal, "gone")
    async with platform.core() as core:
        with pytest.raises(NotFound):
            await core.devices.get(alice.principal, "gone")
        kept = await core.devices.get(alice.principal, "kept")
        series = await core.telemetry.series_of_devices([kept.id])
        assert [s.last_value for s in series[kept.id]] == [2.0]
        session = core.uow.session
        points = (await session.execute(text("SELECT COUNT(*) FROM points"))).scalar_one()
        all_series = (await session.execute(text("SELECT COUNT(*) FROM series"))).scalar_one()
    assert points == 1
    assert all_series == 1


async def test_an_imprecise_location_cannot_be_narrowed_by_filters(
    platform: Platform, alice: Account, bob: Account
) -> None:
    await _devices(
        platform,
        alice,
        [
            {
                "key": "home",
                "latitude": 41.38706,
                "longitude": 2.17015,
                "public": True,
                "precise_location": False,
            }
        ],
    )
    async with platform.core() as core:

        async def found(op: str, value: str) -> bool:
            page = await core.devices.search(
                bob.principal,
                ListQuery(filters=(Filter("latitude", op, value),)),  # type: ignore[arg-type]
            )
            return page.total == 1

        # The exact latitude is 41.38706; others only ever compare against 41.39.
        assert await found("gt", "41.388")
        assert not await found("lt", "41.388")
        assert await found("eq", "41.39")
        page = await core.devices.search(bob.principal, ListQuery(near=(41.38706, 2.17015)))
    assert [d.key for d in page.items] == ["home"]
