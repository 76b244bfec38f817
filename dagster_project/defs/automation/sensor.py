"""The automation sensor: evaluates every asset's automation condition (lib/automation.py)."""

from __future__ import annotations

import dagster as dg

automation_sensor = dg.AutomationConditionSensorDefinition(
    "estore_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Rebuilds the days a load touched, then the marts that read them.",
)
