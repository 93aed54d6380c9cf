"""A command recorded by a process without a broker connection (the CLI, another worker with
MQTT off) is published by a running worker that has one: the app looks for unclaimed commands
and its transport claims each before publishing, so no other worker publishes it too."""

from __future__ import annotations

import asyncio
import json
import uuid

from tests.conftest import Account, _free_port
from tests.transports.mqtt.test_embedded import TIMEOUT, Device, _wait_for
from thingport.app import create_app
from thingport.core.devices.schemas import DeviceCreate
from thingport.platform import Platform
from thingport.settings import Settings


async def test_a_worker_publishes_a_command_recorded_elsewhere(
    platform: Platform, settings: Settings, alice: Account
) -> None:
    key = f"UC-{uuid.uuid4().hex[:8]}"
    async with platform.core() as core:
        await core.devices.create(alice.principal, DeviceCreate(key=key))
    worker = settings.model_copy(update={"mqtt_port": _free_port()})
    app = create_app(worker, platform=platform)
    async with app.router.lifespan_context(app):
        device = Device(worker.mqtt_port, key, "alice", alice.token)
        assert await device.connect() == "Success"
        try:
            device.client.subscribe(f"thingport/v1/devices/{key}/commands", qos=1)
            assert await asyncio.wait_for(device.subacks.get(), TIMEOUT) == [1]
            elsewhere = Platform(settings)  # no transport: records, publishes nothing
            try:
                async with elsewhere.core() as core:
                    command = await core.commands.send(alice.principal, key, payload="reboot")
            finally:
                await elsewhere.close()
            message = await asyncio.wait_for(device.messages.get(), TIMEOUT)
            assert json.loads(message.payload)["id"] == command.id

            async def sent() -> bool:  # recorded just after the publish
                async with platform.core() as core:
                    return (await core.commands.get(alice.principal, command.id)).state == "sent"

            await _wait_for(sent, "the command to be recorded as sent")
            async with platform.core() as core:
                assert await core.commands.unclaimed() == []
        finally:
            await device.close()
