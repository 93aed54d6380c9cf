"""catalogue, device data policy and tokens, password resets

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 06:31:17.641177
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from thingport.storage.base import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurements")),
        sa.UniqueConstraint("uuid", name=op.f("uq_measurements_uuid")),
    )
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_password_resets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_resets_user_id"), ["user_id"], unique=False)

    op.create_table(
        "sensors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("default_key", sa.String(length=100), nullable=True),
        sa.Column("datasheet", sa.String(length=255), nullable=True),
        sa.Column("unit_definition", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurements.id"],
            name=op.f("fk_sensors_measurement_id_measurements"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["sensors.id"],
            name=op.f("fk_sensors_parent_id_sensors"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensors")),
        sa.UniqueConstraint("uuid", name=op.f("uq_sensors_uuid")),
    )
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sensors_default_key"), ["default_key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sensors_measurement_id"), ["measurement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sensors_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "device_type_sensors",
        sa.Column("device_type_id", sa.Integer(), nullable=False),
        sa.Column("sensor_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_type_id"],
            ["device_types.id"],
            name=op.f("fk_device_type_sensors_device_type_id_device_types"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensors.id"],
            name=op.f("fk_device_type_sensors_sensor_id_sensors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_type_id", "sensor_id", name=op.f("pk_device_type_sensors")),
    )
    with op.batch_alter_table("device_type_sensors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_type_sensors_sensor_id"), ["sensor_id"], unique=False
        )

    # Existing users get a uuid before the column becomes NOT NULL.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uuid", sa.String(length=36), nullable=True))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.text("SELECT id FROM users")).all():
        connection.execute(
            sa.text("UPDATE users SET uuid = :uuid WHERE id = :id"),
            {"uuid": str(uuid.uuid4()), "id": user_id},
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("uuid", existing_type=sa.String(length=36), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_users_uuid"), ["uuid"])

    # Existing types get a uuid and updated_at before the columns become NOT NULL.
    with op.batch_alter_table("device_types", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uuid", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("slug", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("version", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
    connection = op.get_bind()
    for (type_id,) in connection.execute(sa.text("SELECT id FROM device_types")).all():
        connection.execute(
            sa.text("UPDATE device_types SET uuid = :uuid, updated_at = created_at WHERE id = :id"),
            {"uuid": str(uuid.uuid4()), "id": type_id},
        )
    with op.batch_alter_table("device_types", schema=None) as batch_op:
        batch_op.alter_column("uuid", existing_type=sa.String(length=36), nullable=False)
        batch_op.alter_column("updated_at", existing_type=UTCDateTime(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_device_types_slug"), ["slug"])
        batch_op.create_unique_constraint(batch_op.f("uq_device_types_uuid"), ["uuid"])

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mac_address", sa.String(length=17), nullable=True))
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "tags",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default="[]",
            )
        )
        batch_op.add_column(
            sa.Column("precise_location", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("forwarding_enabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("notify_low_battery", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "notify_stopped_publishing", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.create_index(batch_op.f("ix_devices_mac_address"), ["mac_address"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_devices_token_hash"), ["token_hash"])


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_uuid"), type_="unique")
        batch_op.drop_column("uuid")

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_devices_token_hash"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_devices_mac_address"))
        batch_op.drop_column("notify_stopped_publishing")
        batch_op.drop_column("notify_low_battery")
        batch_op.drop_column("forwarding_enabled")
        batch_op.drop_column("precise_location")
        batch_op.drop_column("tags")
        batch_op.drop_column("token_hash")
        batch_op.drop_column("mac_address")

    with op.batch_alter_table("device_types", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_device_types_uuid"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_device_types_slug"), type_="unique")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("version")
        batch_op.drop_column("slug")
        batch_op.drop_column("uuid")

    with op.batch_alter_table("device_type_sensors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_type_sensors_sensor_id"))

    op.drop_table("device_type_sensors")
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sensors_parent_id"))
        batch_op.drop_index(batch_op.f("ix_sensors_measurement_id"))
        batch_op.drop_index(batch_op.f("ix_sensors_default_key"))

    op.drop_table("sensors")
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_resets_user_id"))

    op.drop_table("password_resets")
    op.drop_table("measurements")
