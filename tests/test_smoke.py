from __future__ import annotations

import httpx

from tests.conftest import Account, basic


async def test_register_ingest_query(client: httpx.AsyncClient, alice: Account) -> None:
    auth = basic(alice.token)
    created = await client.post("/smartmocha/v0/devices", json={"id": "ABC123"}, auth=auth)
    assert created.status_code == 201, created.text
    posted = await client.post(
        "/smartmocha/v0/device/ABC123/data",
        json=[
            {"metric": "t", "value": 1.5, "ts": 1399322129},
            {"metric": "t", "value": 2.5, "ts": 1399322130},
        ],
        auth=auth,
    )
    assert posted.status_code == 201, posted.text
    got = await client.get(
        "/smartmocha/v0/device/ABC123/data",
        params={"start": "2014-05-01", "end": "2014-05-07", "rollup": "1h-avg"},
        auth=auth,
    )
    assert got.status_code == 200, got.text
    assert got.json()["results"][0]["data"] == {"1399320000": 2.0}
