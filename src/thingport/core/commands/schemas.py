"""What the commands service takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel

CommandState = Literal["pending", "sent", "answered", "failed", "expired"]
OPEN_STATES = ("pending", "sent")


class CommandOut(BaseModel):
    id: str  # the request id that travels to the device and back
    device_key: str
    channel: str | None
    payload: Any
    state: CommandState
    response: Any
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class CommandDelivery:
    """A committed command, handed to the transports to publish."""

    command_id: str
    device_id: int
    device_key: str
    channel: str | None
    payload: Any
    # The key of the device's parent: a sub-device is reached through its gateway.
    gateway: str | None = None
    # How the device was last heard over MQTT (HeardRoute, read from its row when the command
    # was recorded): its convention and, for Cayenne, the MQTT user name in its topics.
    convention: str | None = None
    username: str | None = None


class CommandDispatcher(Protocol):
    """A transport that can deliver commands (MQTT publishes them). Before publishing it claims
    the command with `CommandsService.claim` (several workers may be handed the same command:
    the one whose claim succeeded publishes it); after delivering, it records the command as
    sent with `CommandsService.mark_sent`; a command it finds it cannot deliver, it records as
    failed with `CommandsService.fail`."""

    def check(self, delivery: CommandDelivery) -> None:
        """Raise InvalidInput if the command, as the transport knows the device now, could
        not be delivered: called before the command is committed."""
        ...

    async def dispatch(self, delivery: CommandDelivery) -> None: ...
