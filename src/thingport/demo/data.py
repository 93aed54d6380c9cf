"""Demo data: what a newcomer sees in the first minute. Loading is idempotent."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from thingport.core.accounts.schemas import Principal, UserCreate
from thingport.core.devices.schemas import DeviceCreate
from thingport.core.telemetry.schemas import Reading
from thingport.kit.errors import NotFound
from thingport.platform import Platform

DEMO_USER = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "thingport-demo"
DEMO_KEY_NAME = "demo token (rotated at every start)"
BASE_STATION = "D0A0D862CC766B7A"


@dataclass(frozen=True)
class DemoMetric:
    name: str
    low: float
    high: float
    unit: str | None = None
    uuid: str | None = None  # the seed's metric ids, so its examples work as printed
    key: str | None = None  # series key when it is not the name (a SmartCitizen sensor id)

    @property
    def series_key(self) -> str:
        return self.key or self.name


@dataclass(frozen=True)
class DemoDevice:
    key: str
    name: str
    type: str
    metrics: tuple[DemoMetric, ...]
    parent: str | None = None
    # A SmartCitizen kit: public, located, its readings keyed by the kit's sensor ids.
    kit_id: int | None = None
    location: tuple[float, float, str, str] | None = None  # latitude, longitude, city, country


DEVICES = (
    DemoDevice(
        BASE_STATION,
        "awesome basestation",
        "SmartMocha Base Station",
        (
            DemoMetric("Battery Voltage", 3.4, 4.2, "V", "3a853a54-e0fc-4aa9-b1a8-82cfa6dbb783"),
            DemoMetric("External Voltage", 11.5, 12.8, "V", "115d1dae-ffc0-40cf-ade0-18e9da3b654a"),
        ),
    ),
    DemoDevice(
        "A6B2E93A15267DBF",
        "greenhouse climate",
        "SmartMocha Climate Sensor",
        (DemoMetric("Temperature", 16.0, 28.0, "C"), DemoMetric("Humidity", 40.0, 85.0, "%")),
        BASE_STATION,
    ),
    DemoDevice(
        "3AD97529EE51A8A4",
        "bed 3 soil",
        "SmartMocha Soil Sensor",
        (DemoMetric("Soil Moisture", 18.0, 45.0, "%"),),
        BASE_STATION,
    ),
    DemoDevice(
        "CCE29492A7044737",
        "roof light",
        "SmartMocha Light Sensor",
        (DemoMetric("Light", 0.0, 900.0, "lx"),),
        BASE_STATION,
    ),
    DemoDevice(
        "5C4F2A7E90B1D3C8",
        "Plaça de Catalunya",
        "SmartCitizen Kit 2.1",
        (
            DemoMetric("Air temperature", 12.0, 26.0, "ºC", key="55"),
            DemoMetric("Relative humidity", 45.0, 80.0, "%", key="56"),
            DemoMetric("Barometric pressure", 100.5, 102.0, "kPa", key="58"),
            DemoMetric("Noise", 45.0, 75.0, "dBA", key="53"),
            DemoMetric("PM 2.5", 4.0, 30.0, "ug/m3", key="87"),
        ),
        kit_id=26,  # SmartCitizen Kit 2.1 in the built-in catalogue
        location=(41.38706, 2.17015, "Barcelona", "ES"),
    ),
)
VIRTUAL_INTERVAL_S = 5.0
HISTORY_HOURS = 24
HISTORY_STEP_S = 300


@dataclass(frozen=True)
class DemoInfo:
    username: str
    password: str
    token: str
    devices: tuple[str, ...]


def simulation_ranges(device: DemoDevice) -> dict[str, list[float]]:
    return {m.series_key: [m.low, m.high] for m in device.metrics}


def wave(metric: DemoMetric, t_s: float, phase: float) -> float:
    """A smooth daily curve inside the metric's range, so a chart of the history looks alive."""
    middle = (metric.low + metric.high) / 2
    amplitude = (metric.high - metric.low) / 2 * 0.8
    return round(middle + amplitude * math.sin(2 * math.pi * t_s / 86_400 + phase), 3)


async def load_demo(platform: Platform) -> DemoInfo:
    """Create the demo user, devices and a day of history if missing; issue a fresh token."""
    async with platform.core() as core:
        await core.catalog.install_builtin()  # the demo kit is one of its device types
        try:
            user = await core.accounts.get_user(DEMO_USER)
        except NotFound:
            user = await core.accounts.create_user(
                UserCreate(username=DEMO_USER, email=DEMO_EMAIL, password=DEMO_PASSWORD)
            )
        principal = Principal(user_id=user.id, username=user.username)
        token = await core.accounts.issue_api_key(user.id, DEMO_KEY_NAME, replace=True)

    for index, spec in enumerate(DEVICES):
        async with platform.core() as core:
            try:
                await core.devices.get(principal, spec.key)
                continue  # already loaded
            except NotFound:
                pass
            latitude, longitude, city, country = spec.location or (None, None, None, None)
            await core.devices.create(
                principal,
                DeviceCreate(
                    key=spec.key,
                    name=spec.name,
                    **({"type_id": spec.kit_id} if spec.kit_id else {"type": spec.type}),
                    parent=spec.parent,
                    public=spec.kit_id is not None,
                    latitude=latitude,
                    longitude=longitude,
                    city=city,
                    country_code=country,
                    exposure="outdoor" if spec.kit_id else None,
                    firmware_version="1.0.0",
                    virtual_interval_s=VIRTUAL_INTERVAL_S,
                    properties={"simulation": simulation_ranges(spec)},
                ),
            )
            ref = await core.devices.resolve(principal, spec.key)
            await core.telemetry.define_series(
                ref,
                [(m.series_key, m.name, m.unit, m.uuid) for m in spec.metrics],
            )
            now_s = time.time()
            start_s = now_s - HISTORY_HOURS * 3600
            history = [
                Reading(
                    key=m.series_key,
                    value=wave(m, t, phase=index + position),
                    ts_ms=int(t * 1000),
                )
                for position, m in enumerate(spec.metrics)
                for t in range(int(start_s), int(now_s), HISTORY_STEP_S)
            ]
            await core.telemetry.ingest_for(ref, history)

    return DemoInfo(
        username=DEMO_USER,
        password=DEMO_PASSWORD,
        token=token.token,
        devices=tuple(d.key for d in DEVICES),
    )
