"""The catalogue every install starts with: measurements, sensors and the SmartCitizen kits.

Ids, uuids and timestamps are fixed, so a sensor id means the same sensor on every install (it
is the series key of a device's readings, and clients keep it). Where the SmartCitizen seed or
the live service shows a sensor (3, 4, 5, 10; 7, 12-18, 21 in the seed's world map; 55 and the
other SCK 2.1 parts), the id and name follow it. Measurement ids start at 7 because the official
client's tests expect the first measurement listed to be 7, "battery".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

# uuid5 under a fixed namespace: stable across installs without storing a table of uuids.
_NAMESPACE = uuid.UUID("6f1d0c3e-3a53-4c1e-9c55-2f0f5c7d0b41")


def stable_uuid(kind: str, ident: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{ident}"))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


_MEASUREMENTS_ADDED = _at("2015-07-01T14:26:00")
_SENSORS_ADDED = _at("2015-02-02T18:30:00")
_KITS_ADDED = _at("2015-02-02T16:00:00")


@dataclass(frozen=True, slots=True)
class BuiltinMeasurement:
    id: int
    name: str
    description: str
    definition: str | None = None
    created_at: datetime = _MEASUREMENTS_ADDED


@dataclass(frozen=True, slots=True)
class BuiltinSensor:
    id: int
    name: str
    description: str
    unit: str | None = None
    parent_id: int | None = None
    measurement_id: int | None = None
    default_key: str | None = None
    datasheet: str | None = None
    unit_definition: str | None = None
    created_at: datetime = _SENSORS_ADDED


@dataclass(frozen=True, slots=True)
class BuiltinKit:
    id: int
    slug: str
    name: str
    description: str
    version: str
    sensor_ids: tuple[int, ...]
    created_at: datetime = _KITS_ADDED


BATTERY, TEMPERATURE, HUMIDITY, LIGHT, NOISE, CO, NO2, PRESSURE = 7, 8, 9, 10, 11, 12, 13, 14
PM1, PM25, PM10, ECO2, TVOC, WIFI, SOLAR = 15, 16, 17, 18, 19, 20, 21

MEASUREMENTS: tuple[BuiltinMeasurement, ...] = (
    BuiltinMeasurement(
        BATTERY, "battery", "Charge left in the kit's battery", "Percentage of full charge"
    ),
    BuiltinMeasurement(TEMPERATURE, "air temperature", "How hot or cold the air is"),
    BuiltinMeasurement(
        HUMIDITY,
        "air humidity",
        "Relative humidity of the air",
        "Water vapour in the air as a percentage of what it could hold at that temperature",
    ),
    BuiltinMeasurement(LIGHT, "light", "Amount of visible light reaching the sensor"),
    BuiltinMeasurement(NOISE, "noise level", "Loudness of the surrounding sound"),
    BuiltinMeasurement(CO, "carbon monoxide", "Carbon monoxide (CO) in the air"),
    BuiltinMeasurement(NO2, "nitrogen dioxide", "Nitrogen dioxide (NO2) in the air"),
    BuiltinMeasurement(PRESSURE, "barometric pressure", "Pressure of the atmosphere"),
    BuiltinMeasurement(PM1, "PM 1", "Particulate matter smaller than 1 micrometre"),
    BuiltinMeasurement(PM25, "PM 2.5", "Particulate matter smaller than 2.5 micrometres"),
    BuiltinMeasurement(PM10, "PM 10", "Particulate matter smaller than 10 micrometres"),
    BuiltinMeasurement(ECO2, "eCO2", "Equivalent carbon dioxide, estimated from the VOCs"),
    BuiltinMeasurement(TVOC, "TVOC", "Total volatile organic compounds in the air"),
    BuiltinMeasurement(WIFI, "wifi networks", "Number of wifi networks in range"),
    BuiltinMeasurement(SOLAR, "solar panel", "Voltage produced by the solar panel"),
)

_SCK1 = _at("2015-02-02T18:14:15.199")

SENSORS: tuple[BuiltinSensor, ...] = (
    # SCK 1.0 (Ambient Board)
    BuiltinSensor(
        3,
        "DHT22",
        "Digital Temperature and Relative Humidity Sensor",
        created_at=_SCK1,
    ),
    BuiltinSensor(
        4,
        "DHT22 - Temperature",
        "Temperature",
        "ºC",
        parent_id=3,
        measurement_id=TEMPERATURE,
        default_key="temp",
        unit_definition="degree Celsius",
        created_at=_at("2015-02-02T18:15:14.132"),
    ),
    BuiltinSensor(
        5,
        "DHT22 - Humidity",
        "Humidity",
        "%",
        parent_id=3,
        measurement_id=HUMIDITY,
        default_key="hum",
        unit_definition="percent relative humidity",
        created_at=_at("2015-02-02T18:15:34.891"),
    ),
    BuiltinSensor(
        6, "PDV-P8001", "Light Dependent Resistor", "%", measurement_id=LIGHT, default_key="light"
    ),
    BuiltinSensor(
        7,
        "POM-3044P-R",
        "Electret microphone with envelope follower sound pressure sensor (noise)",
        "dB",
        measurement_id=NOISE,
        default_key="noise",
    ),
    BuiltinSensor(
        8,
        "MiCS-5525",
        "Carbon Monoxide gas sensor (metal oxide)",
        "kOhm",
        measurement_id=CO,
        default_key="co",
    ),
    BuiltinSensor(
        9,
        "MiCS-2710",
        "Nitrogen Dioxide gas sensor (metal oxide)",
        "kOhm",
        measurement_id=NO2,
        default_key="no2",
    ),
    BuiltinSensor(
        10,
        "Battery",
        "Custom Circuit",
        "%",
        measurement_id=BATTERY,
        default_key="bat",
        created_at=_at("2015-02-02T18:18:00.276"),
    ),
    BuiltinSensor(
        11, "Solar Panel", "Custom Circuit", "V", measurement_id=SOLAR, default_key="panel"
    ),
    # SCK 1.1 (Ambient Board)
    BuiltinSensor(
        12,
        "HPP828E031 - Temperature",
        "Temperature",
        "ºC",
        parent_id=19,
        measurement_id=TEMPERATURE,
        default_key="temp",
        unit_definition="degree Celsius",
    ),
    BuiltinSensor(
        13,
        "HPP828E031 - Humidity",
        "Humidity",
        "%",
        parent_id=19,
        measurement_id=HUMIDITY,
        default_key="hum",
        unit_definition="percent relative humidity",
    ),
    BuiltinSensor(
        14,
        "BH1730FVC",
        "Digital Ambient Light Sensor",
        "Lux",
        measurement_id=LIGHT,
        default_key="light",
    ),
    BuiltinSensor(
        15,
        "MiCS-4514 - CO",
        "Carbon Monoxide",
        "kOhm",
        parent_id=20,
        measurement_id=CO,
        default_key="co",
    ),
    BuiltinSensor(
        16,
        "MiCS-4514 - NO2",
        "Nitrogen Dioxide",
        "kOhm",
        parent_id=20,
        measurement_id=NO2,
        default_key="no2",
    ),
    BuiltinSensor(17, "Battery", "Custom Circuit", "%", measurement_id=BATTERY, default_key="bat"),
    BuiltinSensor(
        18, "Solar Panel", "Custom Circuit", "V", measurement_id=SOLAR, default_key="panel"
    ),
    BuiltinSensor(19, "HPP828E031 (SHT21)", "Digital Temperature and Relative Humidity Sensor"),
    BuiltinSensor(20, "MiCS4514", "Gas Sensor"),
    BuiltinSensor(
        21,
        "Microchip RN-131",
        "Wifi module, counting the networks in range",
        "# networks",
        measurement_id=WIFI,
        default_key="nets",
    ),
    # SmartCitizen Kit 2.1 (Urban Sensor Board)
    BuiltinSensor(52, "ICS43432", "I2S Digital Mems Microphone with custom Audio Processing"),
    BuiltinSensor(
        53,
        "ICS43432 - Noise",
        "A-weighted noise level from the I2S digital MEMS microphone",
        "dBA",
        parent_id=52,
        measurement_id=NOISE,
        default_key="noise_a",
    ),
    BuiltinSensor(54, "Sensirion SHT31", "Digital relative humidity and air temperature sensor"),
    BuiltinSensor(
        55,
        "Sensirion SHT31 - Temperature",
        "Air temperature",
        "ºC",
        parent_id=54,
        measurement_id=TEMPERATURE,
        default_key="sht31_t",
        unit_definition="degree Celsius",
    ),
    BuiltinSensor(
        56,
        "Sensirion SHT31 - Humidity",
        "Relative humidity",
        "%",
        parent_id=54,
        measurement_id=HUMIDITY,
        default_key="sht31_h",
        unit_definition="percent relative humidity",
    ),
    BuiltinSensor(57, "MPL3115A2", "Digital Barometric Pressure Sensor"),
    BuiltinSensor(
        58,
        "MPL3115A2 - Barometric Pressure",
        "Barometric pressure",
        "kPa",
        parent_id=57,
        measurement_id=PRESSURE,
        default_key="mpl_p",
    ),
    BuiltinSensor(69, "SCK PM Board", "SCK PM Driver: Dual Plantower PMSX003 driver"),
    BuiltinSensor(
        86,
        "PMS5003_AVG",
        "PM Board with dual PMS5003 PM 10/2.5/1 sensors",
        parent_id=69,
    ),
    BuiltinSensor(
        87,
        "PMS5003_AVG-PM1",
        "Particle Matter PM 1",
        "ug/m3",
        parent_id=86,
        measurement_id=PM1,
        default_key="pm_avg_1",
    ),
    BuiltinSensor(
        88,
        "PMS5003_AVG-PM2.5",
        "Particle Matter PM 2.5",
        "ug/m3",
        parent_id=86,
        measurement_id=PM25,
        default_key="pm_avg_25",
    ),
    BuiltinSensor(
        89,
        "PMS5003_AVG-PM10",
        "Particle Matter PM 10",
        "ug/m3",
        parent_id=86,
        measurement_id=PM10,
        default_key="pm_avg_10",
    ),
    BuiltinSensor(111, "AMS CCS811", "Digital gas sensor for monitoring indoor air quality"),
    BuiltinSensor(
        112,
        "AMS CCS811 - eCO2",
        "Equivalent Carbon Dioxide",
        "ppm",
        parent_id=111,
        measurement_id=ECO2,
        default_key="ccs811_eco2",
    ),
    BuiltinSensor(
        113,
        "AMS CCS811 - TVOC",
        "Total Volatile Organic Compounds",
        "ppb",
        parent_id=111,
        measurement_id=TVOC,
        default_key="ccs811_voc",
    ),
)

KITS: tuple[BuiltinKit, ...] = (
    BuiltinKit(
        2,
        "sck:1,0",
        "SCK 1.0",
        "SCK 1.0 - Ambient Board",
        "1.0",
        (4, 5, 6, 7, 8, 9, 10, 11, 21),
    ),
    BuiltinKit(
        3,
        "sck:1,1",
        "SCK 1.1",
        "SCK 1.1 - Ambient Board",
        "1.1",
        (7, 12, 13, 14, 15, 16, 17, 18, 21),
    ),
    BuiltinKit(
        26,
        "sck:2,1",
        "SmartCitizen Kit 2.1",
        "Smart Citizen Kit 2.1 with Urban Sensor Board",
        "2.1",
        (10, 14, 53, 55, 56, 58, 87, 88, 89, 112, 113),
        created_at=_at("2019-03-21T17:00:00"),
    ),
)
