"""All configuration in one place: environment variables prefixed THINGPORT_, or CLI flags."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="THINGPORT_", extra="ignore")

    data_dir: Path = Field(
        default=Path("thingport-data"), description="Where the embedded database lives."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; defaults to SQLite in data_dir "
        "(postgresql+asyncpg://... for PostgreSQL).",
    )
    host: str = "127.0.0.1"
    port: int = 8080
    online_window_seconds: int = Field(
        default=600, gt=0, description="A device seen within this window is online, else offline."
    )
    auth_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a verified API token is remembered in memory (0: never); a token "
        "revoked by another process keeps working for at most this long.",
    )
    migrate: bool = Field(
        default=True,
        description="Upgrade the database schema at start-up. Off for deployments that run "
        "`thingport migrate` as a step of their own: a worker then refuses to start on a schema "
        "that is not up to date.",
    )
    demo: bool = Field(default=False, description="Load demo data and run the virtual devices.")
    virtual_devices: bool = Field(
        default=True, description="Run virtual devices flagged in the database."
    )
    mqtt_port: int = Field(
        default=1883,
        ge=0,
        le=65535,
        description="Port of the embedded MQTT broker, on the HTTP host (0: no embedded broker). "
        "Not started when mqtt_url names an external broker.",
    )
    mqtt_url: str | None = Field(
        default=None,
        description="External broker (mqtt://user:pass@host:1883): Thingport subscribes through "
        "shared subscriptions and publishes commands there.",
    )
    mqtt_client_id: str = Field(
        default_factory=lambda: f"thingport-{socket.gethostname()}",
        description="This worker's MQTT client id on the external broker. Keep it stable: "
        "messages a killed worker had not acknowledged come back to the same id.",
    )
    mqtt_share_group: str = Field(default="thingport", description="Shared subscription group.")
    bus_url: str = Field(default="memory://", description="Event bus backend.")
    smtp_host: str | None = Field(
        default=None,
        description="Mail server for outbound e-mail (password resets). Unset: e-mails are not "
        "sent, and each one is logged as a warning.",
    )
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = Field(default="thingport@localhost", description="From: address.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection to TLS.")
    password_reset_minutes: int = Field(
        default=60, gt=0, description="How long a password-reset token sent by e-mail is valid."
    )
    log_level: str = "info"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'thingport.db').as_posix()}"

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"
