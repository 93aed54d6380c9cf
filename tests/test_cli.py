"""The `thingport` command as a user runs it: a real subprocess per command."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.conftest import _free_port
from thingport.demo.data import DEVICES

THINGPORT = [sys.executable, "-m", "thingport"]


def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*THINGPORT, *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_migrate_user_and_token_on_any_database(database_url: str) -> None:
    db = ["--database-url", database_url]
    assert run("migrate", *db).returncode == 0
    created = run(
        "user", "create", "alice", "--email", "a@example.com", "--password", "pw-123456", *db
    )
    assert created.returncode == 0, created.stderr
    token = run("token", "create", "alice", *db)
    assert token.returncode == 0, token.stderr
    # stdout is the token and nothing else, for TOKEN=$(thingport token create alice)
    assert re.fullmatch(r"tp_[0-9a-f]{12}_[A-Za-z0-9-]+\n", token.stdout)
    again = run(
        "user", "create", "alice", "--email", "b@example.com", "--password", "pw-123456", *db
    )
    assert again.returncode == 1
    assert "already taken" in again.stderr
    missing = run("token", "create", "nobody", *db)
    assert missing.returncode == 1
    assert "nobody" in missing.stderr


def test_user_create_prompts_for_the_password(tmp_path: Path) -> None:
    result = run(
        "user",
        "create",
        "carol",
        "--email",
        "c@example.com",
        "--data-dir",
        str(tmp_path),
        input="s3cret-pass\ns3cret-pass\n",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "thingport.db").exists()
    mismatch = run(
        "user",
        "create",
        "dave",
        "--email",
        "d@example.com",
        "--data-dir",
        str(tmp_path),
        input="one-password\nanother-one\n",
    )
    assert mismatch.returncode == 1
    assert "differ" in mismatch.stderr


def test_demo_command_prints_a_working_token(tmp_path: Path) -> None:
    result = run("demo", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"tp_\S+\n", result.stdout)


TOKEN_LINE = re.compile(r"demo API token \(new at every start\): (tp_\S+)")


@contextlib.contextmanager
def serving(data_dir: Path) -> Iterator[tuple[str, str, list[str]]]:
    """`thingport serve --demo` in a subprocess; yields (base URL, demo token, stderr lines)."""
    port = _free_port()
    process = subprocess.Popen(
        [*THINGPORT, "serve", "--demo", "--port", str(port), "--data-dir", str(data_dir)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    try:
        assert process.stderr is not None
        token = None
        for line in process.stderr:  # the banner comes right before the server is ready
            lines.append(line)
            if found := TOKEN_LINE.search(line):
                token = found.group(1)
            if "Uvicorn running" in line or "Application startup failed" in line:
                break
        assert token, "".join(lines)
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        yield base, token, lines
    finally:
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=30)
        lines.append(rest or "")
    # uvicorn re-raises the signal after a clean shutdown: 130 / -SIGINT, not a crash
    assert process.returncode in (0, 130, -signal.SIGINT), "".join(lines)
    assert "Application shutdown complete" in "".join(lines)


def test_serve_with_demo_answers_with_the_printed_token(tmp_path: Path) -> None:
    with serving(tmp_path) as (base, token, lines):
        banner = "".join(lines)
        assert f"{base}/smartmocha/v0" in banner
        assert f"{base}/smartmocha/docs" in banner
        listing = httpx.get(f"{base}/smartmocha/v0/devices", auth=(token, ""), timeout=5)
        assert listing.status_code == 200
        assert listing.json()["count"] == len(DEVICES)
    first_token = token

    # a second start on the same data: the demo is not duplicated and the token is new
    with serving(tmp_path) as (base, token, _):
        assert token != first_token
        listing = httpx.get(f"{base}/smartmocha/v0/devices", auth=(token, ""), timeout=5)
        assert listing.json()["count"] == len(DEVICES)
        stale = httpx.get(f"{base}/smartmocha/v0/devices", auth=(first_token, ""), timeout=5)
        assert stale.status_code == 401


def _serve_until_ready(*args: str) -> tuple[subprocess.Popen[str], list[str], bool]:
    """Start `thingport serve ARGS`; returns once it is ready or has given up starting."""
    process = subprocess.Popen(
        [*THINGPORT, "serve", "--mqtt-port", "0", *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert process.stderr is not None
    lines: list[str] = []
    for line in process.stderr:
        lines.append(line)
        if "Uvicorn running" in line:
            return process, lines, True
        if "Application startup failed" in line:
            break
    return process, lines, False


def test_serve_no_migrate_refuses_an_old_schema_and_runs_on_a_migrated_one(
    tmp_path: Path,
) -> None:
    port = str(_free_port())
    args = ("--no-migrate", "--port", port, "--data-dir", str(tmp_path))
    process, lines, ready = _serve_until_ready(*args)
    _, rest = process.communicate(timeout=30)
    output = "".join(lines) + (rest or "")
    assert not ready, output
    assert process.returncode != 0
    assert "run `thingport migrate` first" in output
    assert "revision none" in output

    assert run("migrate", "--data-dir", str(tmp_path)).returncode == 0
    process, lines, ready = _serve_until_ready(*args)
    try:
        assert ready, "".join(lines)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def test_command_send_records_a_command_for_a_worker_to_publish(database_url: str) -> None:
    import asyncio

    from thingport.core.accounts.schemas import Principal, UserCreate
    from thingport.core.devices.schemas import DeviceCreate, HeardRoute
    from thingport.platform import Platform
    from thingport.settings import Settings

    async def setup() -> None:
        platform = Platform(Settings(database_url=database_url))
        try:
            async with platform.core() as core:
                user = await core.accounts.create_user(
                    UserCreate(username="dora", email="dora@example.com")
                )
                principal = Principal(user_id=user.id, username=user.username)
                await core.devices.create(principal, DeviceCreate(key="relay-1"))
                await core.devices.create(principal, DeviceCreate(key="cay-1"))
                cayenne = await core.devices.resolve(principal, "cay-1", change=True)
                await core.devices.record_routes({cayenne.id: HeardRoute("cayenne", "u-1")})
        finally:
            await platform.close()

    asyncio.run(setup())
    db = ["--database-url", database_url]
    sent = run("command", "send", "relay-1", "relay", '{"on": true}', "--user", "dora", *db)
    assert sent.returncode == 0, sent.stderr
    command_id = sent.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", command_id)
    shown = run("command", "show", command_id, *db)
    assert shown.returncode == 0, shown.stderr
    command = json.loads(shown.stdout)
    assert (command["state"], command["channel"], command["payload"]) == (
        "pending",
        "relay",
        {"on": True},
    )
    # Refused as a worker would refuse it: the device was heard speaking Cayenne.
    refused = run("command", "send", "cay-1", "relay", "1", "--user", "dora", *db)
    assert refused.returncode == 1
    assert "not a number" in refused.stderr
    assert run("command", "send", "cay-1", "4", "1", "--user", "dora", *db).returncode == 0
    nobody = run("command", "send", "relay-1", "relay", "1", "--user", "nobody", *db)
    assert nobody.returncode == 1
