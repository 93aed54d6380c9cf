"""Imports every domain's tables so that Base.metadata is complete (for Alembic and tests)."""

from thingport.core.accounts import models as accounts_models
from thingport.core.catalog import models as catalog_models
from thingport.core.commands import models as commands_models
from thingport.core.devices import models as devices_models
from thingport.core.groups import models as groups_models
from thingport.core.leases import models as leases_models
from thingport.core.telemetry import models as telemetry_models
from thingport.storage.base import Base

metadata = Base.metadata

__all__ = [
    "accounts_models",
    "catalog_models",
    "commands_models",
    "devices_models",
    "groups_models",
    "leases_models",
    "metadata",
    "telemetry_models",
]
