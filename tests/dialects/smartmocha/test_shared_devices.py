"""GET /v0/devices lists the caller's own devices and those shared with a group of theirs, not
other people's public devices (CONTRACT.md, "Device list"); a shared device reads like an own."""

from __future__ import annotations

import httpx

from tests.conftest import Account, basic
from tests.dialects.smartmocha.conftest import API
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.groups.schemas import GroupCreate
from thingport.platform import Platform


async def test_the_list_holds_own_and_shared_devices_only(
    client: httpx.AsyncClient, platform: Platform, alice: Account, bob: Account
) -> None:
    public = DeviceCreate(key="A0000000000000PU", public=True)
    async with platform.core() as core:
        await core.devices.create(alice.principal, public)
        await core.devices.create(alice.principal, DeviceCreate(key="A0000000000000SH"))
        await core.devices.create(alice.principal, DeviceCreate(key="A0000000000000PR"))
        await core.devices.create(bob.principal, DeviceCreate(key="B00000000000000B"))
        group = await core.groups.create(alice.principal, GroupCreate(name="lab"))
        await core.groups.add_member(alice.principal, group.id, bob.principal.user_id)
        await core.groups.share_device(alice.principal, group.id, "A0000000000000SH")
    listing = await client.get(f"{API}/devices", auth=basic(bob.token))
    assert listing.status_code == 200
    assert [d["id"] for d in listing.json()["data"]] == ["A0000000000000SH", "B00000000000000B"]
    # Not listed, yet readable one by one: the public device, as the policy says.
    for key in ("A0000000000000SH", "A0000000000000PU"):
        assert (await client.get(f"{API}/device/{key}", auth=basic(bob.token))).status_code == 200
    private = await client.get(f"{API}/device/A0000000000000PR", auth=basic(bob.token))
    assert private.status_code == 404
