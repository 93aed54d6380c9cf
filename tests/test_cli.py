"""The `thingport` command as a user runs it: a real subprocess per command."""

from __future__ import annotations

import contextlib
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
