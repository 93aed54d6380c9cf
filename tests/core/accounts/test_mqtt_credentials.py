from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import Account
from thingport.core.accounts.models import MqttCredential
from thingport.kit.errors import Unauthenticated
from thingport.platform import Platform


async def test_mqtt_credentials_authenticate_and_are_stored_hashed(
    platform: Platform, alice: Account
) -> None:
    async with platform.core() as core:
        issued = await core.accounts.issue_mqtt_credentials(alice.principal.user_id)
    async with platform.db.sessions() as session:
        stored = (await session.execute(select(MqttCredential))).scalar_one()
    assert stored.id == issued.username
    assert issued.password not in stored.secret_hash
    async with platform.core() as core:
        principal = await core.accounts.authenticate_mqtt(issued.username, issued.password)
        assert principal.user_id == alice.principal.user_id
        with pytest.raises(Unauthenticated):
            await core.accounts.authenticate_mqtt(issued.username, "wrong")
        with pytest.raises(Unauthenticated):
            await core.accounts.authenticate_mqtt("nobody", issued.password)


async def test_an_api_token_works_as_mqtt_password(platform: Platform, alice: Account) -> None:
    async with platform.core() as core:
        assert (await core.accounts.authenticate_mqtt("any", alice.token)).username == "alice"
        with pytest.raises(Unauthenticated):
            await core.accounts.authenticate_mqtt("any", alice.token + "x")
