"""A group administrator uses the MQTT topics of the devices shared with their group, on the
embedded broker and through the HTTP ACL of an external one; a plain member does not."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Account, make_account
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.groups.schemas import GroupCreate, GroupRole
from thingport.platform import Platform
from thingport.transports.mqtt.embedded import EmbeddedBroker

KEY = "LAB-KILN"
TOPIC = f"thingport/v1/devices/{KEY}/telemetry"


async def _shared(platform: Platform, owner: Account, admin: Account, member: Account) -> None:
    async with platform.core() as core:
        await core.devices.create(owner.principal, DeviceCreate(key=KEY))
        group = await core.groups.create(owner.principal, GroupCreate(name="lab"))
        await core.groups.add_member(
            owner.principal, group.id, admin.principal.user_id, GroupRole.ADMINISTRATOR
        )
        await core.groups.add_member(owner.principal, group.id, member.principal.user_id)
        await core.groups.share_device(owner.principal, group.id, KEY)


async def test_embedded_broker_grants_a_group_administrator_the_shared_devices_topics(
    platform: Platform, alice: Account, bob: Account
) -> None:
    carol = await make_account(platform, "carol")
    await _shared(platform, alice, bob, carol)
    broker = EmbeddedBroker(platform, port=0)  # the ACL needs no listening socket
    assert await broker.authenticate("bob-1", "bob", bob.token)
    assert await broker.authenticate("carol-1", "carol", carol.token)
    assert broker.allowed("bob-1", TOPIC)
    assert not broker.allowed("carol-1", TOPIC)


async def _authorize(client: httpx.AsyncClient, username: str) -> Any:
    request = {"username": username, "clientid": f"{username}-1", "action": "publish"}
    response = await client.post("/mqtt-auth/emqx/authorize", json={**request, "topic": TOPIC})
    assert response.status_code == 200
    return response.json()


async def test_http_acl_grants_a_group_administrator_the_shared_devices_topics(
    client: httpx.AsyncClient, platform: Platform, alice: Account, bob: Account
) -> None:
    carol = await make_account(platform, "carol")
    await _shared(platform, alice, bob, carol)
    assert await _authorize(client, "bob") == {"result": "allow"}
    assert await _authorize(client, "carol") == {"result": "deny"}
